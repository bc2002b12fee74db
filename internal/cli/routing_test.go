package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate valid until notAfter, and
// its key, into dir as name.pem and name-key.pem.
func writeCert(t *testing.T, dir, name string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{name + ".pem": {Type: "CERTIFICATE", Bytes: der}, name + "-key.pem": {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestValidate_CertificateProblemsAtTheirLines: a key that does not match
// its certificate, an expired certificate and a missing file are each an
// error at the line of the certificate, and up starts nothing.
func TestValidate_CertificateProblemsAtTheirLines(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "good", time.Now().Add(24*time.Hour))
	writeCert(t, dir, "other", time.Now().Add(24*time.Hour))
	writeCert(t, dir, "old", time.Now().Add(-time.Hour))
	stack := filepath.Join(dir, "shoal.yaml")
	os.WriteFile(stack, []byte(`load_balancers:
  web:
    listeners:
      - port: 0
        protocol: https
        certificates:
          - {certificate: good.pem, key: good-key.pem}
          - {certificate: good.pem, key: other-key.pem}
          - {certificate: old.pem, key: old-key.pem}
          - {certificate: gone.pem, key: good-key.pem}
        default_action: {fixed_response: {status_code: 200}}
`), 0o644)
	code, _, stderr := run(t, context.Background(), "validate", "-f", stack)
	for _, want := range []string{
		"shoal.yaml:8:13: load_balancers.web.listeners[0].certificates[1]: certificate " + filepath.Join(dir, "good.pem") + " with key " + filepath.Join(dir, "other-key.pem") + ": tls: private key does not match public key",
		"shoal.yaml:9:13: load_balancers.web.listeners[0].certificates[2]: certificate " + filepath.Join(dir, "old.pem") + " expired on",
		"shoal.yaml:10:13: load_balancers.web.listeners[0].certificates[3]: certificate: open " + filepath.Join(dir, "gone.pem"),
		"has 3 problems",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 1 || strings.Contains(stderr, "certificates[0]") {
		t.Errorf("exit %d; the good certificate must not be reported:\n%s", code, stderr)
	}
}
