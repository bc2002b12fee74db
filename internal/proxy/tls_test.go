package proxy

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCert is a self-signed certificate written to PEM files.
type testCert struct {
	Certificate // the files
	names       []string
	x509        *x509.Certificate
}

// certOpts vary a test certificate.
type certOpts struct {
	notBefore, notAfter time.Time // default: 2020 to 2100
	key                 string    // "ecdsa" (default), "rsa", "ed25519"
}

// newTestCert makes a self-signed certificate for names in t.TempDir().
func newTestCert(t *testing.T, opts certOpts, names ...string) testCert {
	t.Helper()
	var key crypto.Signer
	var err error
	switch opts.key {
	case "", "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.notBefore.IsZero() {
		opts.notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.notAfter.IsZero() {
		opts.notAfter = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "shoal test"},
		NotBefore:             opts.notBefore,
		NotAfter:              opts.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := testCert{
		Certificate: Certificate{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")},
		names:       names, x509: leaf,
	}
	writePEM(t, c.CertFile, "CERTIFICATE", der)
	writePEM(t, c.KeyFile, "PRIVATE KEY", keyDER)
	return c
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsClient trusts the certificates and speaks the protocols given
// ("h2", "http/1.1"); it connects to addr whatever the URL's host, so that
// the URL's host is the server name (SNI).
func tlsClient(t *testing.T, addr string, protos []string, certs ...testCert) *http.Client {
	t.Helper()
	var p http.Protocols
	p.SetHTTP1(slices.Contains(protos, "http/1.1"))
	p.SetHTTP2(slices.Contains(protos, "h2"))
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: poolOf(certs...)},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		Protocols: &p,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// httpsListener is a config with the https listener web/0 on a free port,
// forwarding to the one group, with certs (the first the default).
func httpsListener(group string, tg TargetGroupConfig, certs ...testCert) Config {
	cfg := singleListener(group, tg, 0)
	cfg.Listeners[0].Protocol = "https"
	for _, c := range certs {
		cfg.Listeners[0].Certificates = append(cfg.Listeners[0].Certificates, c.Certificate)
	}
	return cfg
}

// newHTTPSHarness is newHarness with the listener web/0 https, serving
// certs, and its client trusting them and speaking protos.
func newHTTPSHarness(t *testing.T, tg TargetGroupConfig, protos []string, certs ...testCert) *harness {
	t.Helper()
	h := newHarness(t, testGroup(), 0) // http first: HTTP2 and GRPC groups take an https listener
	if err := h.b.Apply(context.Background(), httpsListener("api", tg, certs...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	addr := h.b.ListenerAddrs()[0]
	h.base = "https://" + certs[0].names[0]
	h.client = tlsClient(t, addr, protos, certs...)
	return h
}

var (
	h1Only  = []string{"http/1.1"}
	h2AndH1 = []string{"h2", "http/1.1"}
)

func TestListener_HTTPSChoosesCertificateBySNI(t *testing.T) {
	def := newTestCert(t, certOpts{}, "www.example.com")
	api := newTestCert(t, certOpts{key: "rsa"}, "api.example.com", "*.apps.example.com")
	h := newHTTPSHarness(t, testGroup(), h2AndH1, def, api)
	_, port, _ := net.SplitHostPort(h.b.ListenerAddrs()[0])

	for _, c := range []struct {
		name, host string
		want       testCert
	}{
		{"exact name of the second", "api.example.com", api},
		{"any case, final dot", "API.Example.COM.", api},
		{"wildcard", "shop.apps.example.com", api},
		{"wildcard covers one label only", "a.b.apps.example.com", def},
		{"exact name of the default", "www.example.com", def},
		{"no match: the default", "other.example.com", def},
		{"no SNI (an IP address): the default", "127.0.0.1", def},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", h.b.ListenerAddrs()[0], &tls.Config{
				ServerName: c.host, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if got := st.PeerCertificates[0]; !got.Equal(c.want.x509) {
				t.Errorf("served the certificate of %v, want the one of %v", got.DNSNames, c.want.names)
			}
			if st.NegotiatedProtocol != "h2" {
				t.Errorf("ALPN: got %q, want h2", st.NegotiatedProtocol)
			}
		})
	}

	// A request through it: verified, HTTP/2, X-Forwarded-Proto https.
	seen := make(chan *http.Request, 1)
	h.register(newRecordingBackend(t, seen))
	resp, err := h.client.Get("https://api.example.com/who")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !resp.TLS.PeerCertificates[0].Equal(api.x509) {
		t.Errorf("got HTTP/%d with the certificate of %v, want HTTP/2 with the one of %v",
			resp.ProtoMajor, resp.TLS.PeerCertificates[0].DNSNames, api.names)
	}
	r := <-seen
	if got := r.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto: got %q, want https", got)
	}
	if got := r.Header.Get("X-Forwarded-Port"); got != port {
		t.Errorf("X-Forwarded-Port: got %q, want %s", got, port)
	}
	if r.ProtoMajor != 1 {
		t.Errorf("the HTTP1 group's target got HTTP/%d, want HTTP/1.1", r.ProtoMajor)
	}
}

// newRecordingBackend starts a backend that sends every request other than
// health checks to seen, and returns its address.
func newRecordingBackend(t *testing.T, seen chan<- *http.Request) string {
	t.Helper()
	bk := newBackendServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		seen <- r
		io.WriteString(w, "ok")
	}), false)
	return bk
}

// newBackendServer starts h as a cleartext backend, taking HTTP/1.1 and,
// with h2c, HTTP/2 with prior knowledge too; it returns its address.
func newBackendServer(t *testing.T, h http.Handler, h2c bool) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(h2c)
	srv.Protocols = &p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// newTLSBackend starts h as a backend in TLS with a self-signed
// certificate, taking HTTP/2 by ALPN too; it returns its address. It does
// not log the failures of the health checks, which come in cleartext.
func newTLSBackend(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestListener_ALPN(t *testing.T) {
	cert := newTestCert(t, certOpts{}, "shop.example.com")
	for _, c := range []struct {
		name   string
		protos []string
		want   int
	}{
		{"client offering h2 gets HTTP/2", h2AndH1, 2},
		{"client offering http/1.1 only gets HTTP/1.1", h1Only, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHTTPSHarness(t, testGroup(), c.protos, cert)
			h.register(newBackend(t, "a").addr)
			resp, err := h.client.Get("https://shop.example.com/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != c.want || string(body) != "a" {
				t.Errorf("got HTTP/%d %q, want HTTP/%d \"a\"", resp.ProtoMajor, body, c.want)
			}
		})
	}
}

func TestListener_HTTPHasNoCleartextHTTP2(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	h.register(newBackend(t, "a").addr)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(h.base + "/")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("h2c with prior knowledge: got HTTP/%d %d, want the connection refused as ALB does", resp.ProtoMajor, resp.StatusCode)
	}
	// HTTP/1.1 still works on that listener.
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "a" {
		t.Errorf("HTTP/1.1: got %d %q, want 200 \"a\"", code, body)
	}
}

func TestBalancer_PrepareChecksCertificates(t *testing.T) {
	good := newTestCert(t, certOpts{}, "shop.example.com")
	other := newTestCert(t, certOpts{}, "other.example.com")
	expired := newTestCert(t, certOpts{notAfter: testStart.Add(-time.Hour)}, "old.example.com")
	early := newTestCert(t, certOpts{notBefore: testStart.Add(time.Hour)}, "new.example.com")
	edward := newTestCert(t, certOpts{key: "ed25519"}, "ed.example.com")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.pem")

	for _, c := range []struct {
		name     string
		protocol string
		certs    []Certificate
		want     []string // substrings of the error
	}{
		{"missing certificate file", "https", []Certificate{{missing, good.KeyFile}}, []string{"web/0", missing, "no such file"}},
		{"missing key file", "https", []Certificate{{good.CertFile, missing}}, []string{"web/0", missing, good.CertFile}},
		{"not PEM", "https", []Certificate{{garbage, good.KeyFile}}, []string{"web/0", garbage}},
		{"key of another certificate", "https", []Certificate{{good.CertFile, other.KeyFile}}, []string{"web/0", good.CertFile, other.KeyFile, "does not match"}},
		{"expired", "https", []Certificate{good.Certificate, expired.Certificate}, []string{"web/0", expired.CertFile, "expired", "ALB"}},
		{"not yet valid", "https", []Certificate{early.Certificate}, []string{"web/0", early.CertFile, "not valid before"}},
		{"ED25519 key", "https", []Certificate{edward.Certificate}, []string{"web/0", edward.CertFile, "ED25519"}},
		{"https without certificate", "https", nil, []string{"web/0", "needs at least one certificate"}},
		{"certificates on http", "http", []Certificate{good.Certificate}, []string{"web/0", "https"}},
		{"unknown protocol", "tcp", nil, []string{"web/0", `"tcp"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, testGroup(), 0)
			before := h.b.ListenerAddrs()
			cfg := singleListener("api", testGroup(), 0)
			cfg.Listeners = append(cfg.Listeners, ListenerConfig{
				Name: "web/1", Address: "127.0.0.1:0", Protocol: "https", TargetGroup: "api",
				IdleTimeout: time.Minute, Certificates: []Certificate{good.Certificate},
			})
			cfg.Listeners[0].Protocol, cfg.Listeners[0].Certificates = c.protocol, c.certs
			_, err := h.b.Prepare(context.Background(), cfg)
			if err == nil {
				t.Fatal("Prepare: got no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Prepare: got %q, want it to say %q", err, w)
				}
			}
			if got := h.b.ListenerAddrs(); !slices.Equal(got, before) {
				t.Errorf("listeners after a failed Prepare: got %v, want %v", got, before)
			}
		})
	}
}

func TestBalancer_KeptListenerChangesCertificatesWithoutRebind(t *testing.T) {
	first := newTestCert(t, certOpts{}, "shop.example.com")
	second := newTestCert(t, certOpts{key: "rsa"}, "shop.example.com")
	h := newHarness(t, testGroup(), 0)
	h.register(newBackend(t, "a").addr)
	addr := refusedAddr(t) // a fixed port, so that Apply keeps the listener
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners[0].Address = addr
	if err := h.b.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}

	// The same listener (name and address) turns https, then changes
	// certificate; an HTTP/1.1 keep-alive connection opened while it was
	// http keeps working.
	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	get := func(c *http.Client, url string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got %d, want 200", url, resp.StatusCode)
		}
	}
	get(&http.Client{Transport: plain}, "http://"+addr+"/")
	for _, cert := range []testCert{first, second} {
		cfg := httpsListener("api", testGroup(), cert)
		cfg.Listeners[0].Address = addr
		if err := h.b.Apply(context.Background(), cfg); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if got := h.b.ListenerAddrs()[0]; got != addr {
			t.Fatalf("listener address: got %s, want %s kept", got, addr)
		}
		if got := served(); !got.Equal(cert.x509) {
			t.Errorf("served a certificate with key %T, want the new one with key %T", got.PublicKey, cert.x509.PublicKey)
		}
		get(tlsClient(t, addr, h2AndH1, cert), "https://shop.example.com/")
	}
	get(&http.Client{Transport: plain}, "http://"+addr+"/")
}

func TestCertSet_Pick(t *testing.T) {
	rsaCert := newTestCert(t, certOpts{key: "rsa"}, "a.example.com", "*.example.com")
	ecCert := newTestCert(t, certOpts{}, "a.example.com")
	wild := newTestCert(t, certOpts{}, "*.example.com")
	def := newTestCert(t, certOpts{}, "default.example.com")
	var certs []*tls.Certificate
	for _, c := range []testCert{def, rsaCert, ecCert, wild} {
		cert, err := loadCertificate(c.Certificate, testStart)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	s := newCertSet(certs)
	ecdsaHello := &tls.ClientHelloInfo{
		SupportedVersions: []uint16{tls.VersionTLS13}, SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
	}
	rsaHello := &tls.ClientHelloInfo{
		SupportedVersions: []uint16{tls.VersionTLS13}, SignatureSchemes: []tls.SignatureScheme{tls.PSSWithSHA256},
	}
	for _, c := range []struct {
		name  string
		hello *tls.ClientHelloInfo
		host  string
		want  *tls.Certificate
	}{
		{"exact names: ECDSA before RSA", ecdsaHello, "a.example.com", certs[2]},
		{"exact names: RSA for a client without ECDSA", rsaHello, "a.example.com", certs[1]},
		{"wildcard: the first the client supports", ecdsaHello, "b.example.com", certs[3]},
		{"wildcard, RSA client", rsaHello, "b.example.com", certs[1]},
		{"no match", ecdsaHello, "example.org", certs[0]},
	} {
		t.Run(c.name, func(t *testing.T) {
			hello := *c.hello
			hello.ServerName = c.host
			if got := s.pick(&hello); got != c.want {
				t.Errorf("got the certificate of %v, want the one of %v", got.Leaf.DNSNames, c.want.Leaf.DNSNames)
			}
		})
	}
}

// poolOf trusts certs.
func poolOf(certs ...testCert) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.x509)
	}
	return pool
}
