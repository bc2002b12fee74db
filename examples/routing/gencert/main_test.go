package main

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"
)

// TestRun makes a pair that loads, names 127.0.0.1 and localhost, and
// lasts.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	checkPair(t, dir, 99*365*24*time.Hour)
}

// TestShippedCertificate checks the pair the example ships: it must load,
// name the addresses the example listens on, and not expire for years.
func TestShippedCertificate(t *testing.T) {
	checkPair(t, "../tls", 10*365*24*time.Hour)
}

func checkPair(t *testing.T, dir string, lasts time.Duration) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("the certificate does not name %s: %v", name, err)
		}
	}
	if left := time.Until(cert.NotAfter); left < lasts {
		t.Errorf("the certificate expires %s, in %v: make a new one with go run ./gencert", cert.NotAfter, left.Round(time.Hour))
	}
}
