package proxy

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// HTTPS listeners, as ALB's:
//
//   - Certificates are PEM files read when a configuration is prepared, so
//     that a missing, unreadable, mismatched, expired or not yet valid one
//     fails Prepare, naming the listener and the file. ACM refuses to import
//     a certificate outside its validity period; shoal refuses to serve one.
//     ED25519 keys are refused too: ALB does not support them.
//   - The first certificate is the default; SNI picks another whose DNS
//     names match the client's server name: an exact name first, then a
//     wildcard (*.example.com matches one label), among several the one the
//     client supports, ECDSA before RSA (ALB's smart selection also weighs
//     the hash, the key length and the validity period; shoal keeps the
//     list order for those). No server name, or no match: the default.
//   - ALPN offers h2 then http/1.1: HTTP/2 on https listeners only. Like
//     ALB, an http listener speaks HTTP/1.1 only; shoal does not take
//     cleartext HTTP/2 (h2c, with prior knowledge or by Upgrade).
//   - TLS 1.2 and 1.3, with Go's default cipher suites (ECDHE and AEAD
//     first): about ALB's ELBSecurityPolicy-TLS13-1-2-2021-06. ALB's API
//     default, ELBSecurityPolicy-2016-08, still allows TLS 1.0 and 1.1;
//     shoal does not.
//   - A kept listener takes the certificates of a new configuration at
//     Commit, without being rebound: each handshake reads them afresh.

// minTLSVersion is the oldest TLS version https listeners accept.
const minTLSVersion = tls.VersionTLS12

// Protocols of listeners and target groups.
const (
	protoHTTP  = "http"
	protoHTTPS = "https"
)

// errNoCertificate fails the handshake of a connection accepted while the
// listener was https and that finds it http (or gone) by the time the
// client says hello.
var errNoCertificate = errors.New("the listener has no certificate")

// certSet is the certificates of one https listener, the default first,
// indexed by the DNS names they serve. Immutable.
type certSet struct {
	certs []*tls.Certificate
	// exact holds the certificates by DNS name; wildcard those of
	// *.example.com by example.com. Names are in lower case.
	exact, wildcard map[string][]*tls.Certificate
}

func newCertSet(certs []*tls.Certificate) *certSet {
	s := &certSet{certs: certs, exact: map[string][]*tls.Certificate{}, wildcard: map[string][]*tls.Certificate{}}
	for _, c := range certs {
		for _, name := range c.Leaf.DNSNames {
			name = strings.ToLower(name)
			if parent, ok := strings.CutPrefix(name, "*."); ok {
				s.wildcard[parent] = append(s.wildcard[parent], c)
			} else {
				s.exact[name] = append(s.exact[name], c)
			}
		}
	}
	return s
}

// pick is the certificate shown to the client that sent hello.
func (s *certSet) pick(hello *tls.ClientHelloInfo) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		return s.certs[0]
	}
	if c := bestFor(hello, s.exact[name]); c != nil {
		return c
	}
	if _, parent, ok := strings.Cut(name, "."); ok {
		if c := bestFor(hello, s.wildcard[parent]); c != nil {
			return c
		}
	}
	return s.certs[0]
}

// bestFor chooses among certificates that match the client's server name:
// the first ECDSA one the client supports, else the first the client
// supports, else the first; nil when there is none.
func bestFor(hello *tls.ClientHelloInfo, certs []*tls.Certificate) *tls.Certificate {
	if len(certs) <= 1 {
		if len(certs) == 0 {
			return nil
		}
		return certs[0]
	}
	var supported *tls.Certificate
	for _, c := range certs {
		if hello.SupportsCertificate(c) != nil {
			continue
		}
		if _, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey); ok {
			return c
		}
		if supported == nil {
			supported = c
		}
	}
	if supported != nil {
		return supported
	}
	return certs[0]
}

// listenerCerts are the certificates of a configuration's https
// listeners, by listenerKey: what Prepare loads and Commit installs.
type listenerCerts map[string]*certSet

// loadCertificates loads the certificates of every https listener of ls
// as of now, and checks that http listeners have none. The error names the
// listener and the file.
func loadCertificates(ls []ListenerConfig, now time.Time) (listenerCerts, error) {
	out := listenerCerts{}
	for _, lc := range ls {
		s, err := loadListenerCerts(lc, now)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %v", lc.Name, err)
		}
		if s != nil {
			out[listenerKey(lc)] = s
		}
	}
	return out, nil
}

// install gives every listener of ls its certificates: nil makes it http.
func (lc listenerCerts) install(ls map[string]*listener) {
	for key, l := range ls {
		l.certs.Store(lc[key])
	}
}

// loadListenerCerts loads the certificates of one listener: nil for an
// http listener.
func loadListenerCerts(lc ListenerConfig, now time.Time) (*certSet, error) {
	switch lc.Protocol {
	case "", protoHTTP:
		if len(lc.Certificates) > 0 {
			return nil, errors.New("certificates are for https listeners: this one is http")
		}
		return nil, nil
	case protoHTTPS:
	default:
		return nil, fmt.Errorf("protocol %q: want http or https", lc.Protocol)
	}
	if len(lc.Certificates) == 0 {
		return nil, errors.New("an https listener needs at least one certificate")
	}
	certs := make([]*tls.Certificate, len(lc.Certificates))
	for i, c := range lc.Certificates {
		cert, err := loadCertificate(c, now)
		if err != nil {
			return nil, err
		}
		certs[i] = cert
	}
	return newCertSet(certs), nil
}

// loadCertificate reads a certificate (with its chain) and its key, and
// checks that they match, that the key is one ALB takes and that the
// certificate is valid now.
func loadCertificate(c Certificate, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.CertFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %v", err)
	}
	keyPEM, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("key of certificate %s: %v", c.CertFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %v", c.CertFile, c.KeyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil { // GODEBUG x509keypairleaf=0
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate %s: %v", c.CertFile, err)
		}
		cert.Leaf = leaf
	}
	const day = "2006-01-02 15:04:05 MST"
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("certificate %s expired on %s: ALB does not take expired certificates; renew it",
			c.CertFile, leaf.NotAfter.UTC().Format(day))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("certificate %s is not valid before %s: ALB does not take a certificate before its validity period",
			c.CertFile, leaf.NotBefore.UTC().Format(day))
	}
	if _, ok := leaf.PublicKey.(ed25519.PublicKey); ok {
		return nil, fmt.Errorf("certificate %s has an ED25519 key: ALB does not support them; use RSA or ECDSA", c.CertFile)
	}
	return &cert, nil
}

// newTLSConfig is the TLS configuration of a listener whose certificates
// certs returns, read at every handshake.
func newTLSConfig(certs func() *certSet) *tls.Config {
	return &tls.Config{
		MinVersion: minTLSVersion,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			s := certs()
			if s == nil {
				return nil, errNoCertificate
			}
			return s.pick(hello), nil
		},
	}
}

// CheckCertificate reports what keeps a certificate and its key from
// serving an https listener now: a file that cannot be read, a key that
// does not match, a certificate that expired or is not valid yet, a key
// ALB does not take. The CLI checks every certificate of a stack with it
// before anything starts, to point at the line that names it.
func CheckCertificate(c Certificate, now time.Time) error {
	_, err := loadCertificate(c, now)
	return err
}
