package awsapi

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateCredentials reads the access key shoal accepts from the JSON
// file at path, or, when there is none, makes one in AWS's shape, writes
// it there (readable by its owner only) and returns it.
//
// A file others may read is refused rather than used: the secret would be
// anyone's on the machine.
func LoadOrCreateCredentials(path string) (Credentials, error) {
	c, err := LoadCredentials(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	c, err = newCredentials()
	if err != nil {
		return Credentials{}, err
	}
	switch err := writeCredentials(path, c); {
	case errors.Is(err, fs.ErrExist):
		// Another shoal created the file first: use its keys, so that
		// both serve the same ones.
		return LoadCredentials(path)
	case err != nil:
		return Credentials{}, err
	}
	return c, nil
}

// LoadCredentials reads and checks the file at path; an error wrapping
// fs.ErrNotExist means there is none.
func LoadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, err
	}
	defer f.Close()
	// The mode is checked on the open file, so that it is the mode of
	// what is read.
	fi, err := f.Stat()
	if err != nil {
		return Credentials{}, err
	}
	if !fi.Mode().IsRegular() {
		return Credentials{}, fmt.Errorf("AWS API credentials %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Credentials{}, fmt.Errorf("AWS API credentials %s are accessible by others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return Credentials{}, fmt.Errorf("reading AWS API credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(buf.Bytes(), &c); err != nil {
		return Credentials{}, fmt.Errorf("AWS API credentials %s are not valid JSON (%v); remove the file to get new keys", path, err)
	}
	if err := checkCredentials(c); err != nil {
		return Credentials{}, fmt.Errorf("AWS API credentials %s: %v; remove the file to get new keys", path, err)
	}
	return c, nil
}

// checkCredentials: both parts are set, and the access key id can stand
// in a signature's credential scope (which '/' separates).
func checkCredentials(c Credentials) error {
	switch {
	case c.AccessKeyID == "":
		return errors.New("access_key_id is empty")
	case c.SecretAccessKey == "":
		return errors.New("secret_access_key is empty")
	}
	for _, r := range c.AccessKeyID {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return errors.New("access_key_id must be letters and digits only")
		}
	}
	return nil
}

// newCredentials makes keys shaped like an IAM user's: "AKIA" and 16
// characters of [A-Z2-7] (base32 of 10 random bytes), and a 40-character
// secret (base64 of 30 random bytes).
func newCredentials() (Credentials, error) {
	var id [10]byte
	var secret [30]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Credentials{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
	}, nil
}

// writeCredentials writes c to path whole or not at all: to a temporary
// file in the same directory (mode 0600, synced), then linked to path,
// which fails with fs.ErrExist rather than replace a file another process
// wrote meanwhile.
func writeCredentials(path string, c Credentials) (err error) {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating AWS API credentials: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating AWS API credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; Chmod says so, whatever the umask.
	if err = tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing AWS API credentials %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// A file system without hard links: rename, which is atomic too
		// but replaces.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("writing AWS API credentials %s: %w", path, err)
		}
	}
	// Make the new directory entry durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
