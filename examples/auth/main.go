// Command idp is a small OpenID Connect provider for development: enough
// of one for shoal's authenticate_oidc (ALB's authenticate-oidc) to sign
// users in against, on this machine, with no account anywhere. It signs
// in anyone who asks as a test user, or shows a form asking for a name.
// Never use it for anything real: it trusts everyone.
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idp:", err)
		os.Exit(1)
	}
}

// config is the provider's configuration, read from the environment.
type config struct {
	addr         string // HOST:PORT; default 127.0.0.1:9000
	issuer       string // IDP_ISSUER; default http://HOST:PORT
	clientID     string // IDP_CLIENT_ID; default shoal
	clientSecret string // IDP_CLIENT_SECRET; default secret
	user         string // IDP_USER: who is signed in without a form; default alice
	form         bool   // IDP_LOGIN=form: always ask for a name
	// redirectURIs are the redirect URIs allowed (IDP_REDIRECT_URIS,
	// comma-separated); none: any http(s) URL whose path is
	// /oauth2/idpresponse, the load balancer's.
	redirectURIs []string
	accessTTL    time.Duration // IDP_ACCESS_TOKEN_TTL; default 1h
}

func loadConfig(getenv func(string) string) (config, error) {
	host := envOr(getenv, "HOST", "127.0.0.1")
	port := envOr(getenv, "PORT", "9000")
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return config{}, fmt.Errorf("PORT: %q is not a port number (0-65535)", port)
	}
	addr := net.JoinHostPort(host, port)
	cfg := config{
		addr:         addr,
		issuer:       strings.TrimSuffix(envOr(getenv, "IDP_ISSUER", "http://"+addr), "/"),
		clientID:     envOr(getenv, "IDP_CLIENT_ID", "shoal"),
		clientSecret: envOr(getenv, "IDP_CLIENT_SECRET", "secret"),
		user:         envOr(getenv, "IDP_USER", "alice"),
		accessTTL:    time.Hour,
	}
	if u, err := url.Parse(cfg.issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return config{}, fmt.Errorf("IDP_ISSUER: %q is not an http(s) URL without a query, like http://127.0.0.1:9000", cfg.issuer)
	}
	switch login := envOr(getenv, "IDP_LOGIN", "auto"); login {
	case "auto":
	case "form":
		cfg.form = true
	default:
		return config{}, fmt.Errorf("IDP_LOGIN: %q: want auto (sign in as IDP_USER at once) or form (ask for a name)", login)
	}
	for _, uri := range strings.Split(getenv("IDP_REDIRECT_URIS"), ",") {
		if uri = strings.TrimSpace(uri); uri != "" {
			cfg.redirectURIs = append(cfg.redirectURIs, uri)
		}
	}
	if v := getenv("IDP_ACCESS_TOKEN_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return config{}, fmt.Errorf("IDP_ACCESS_TOKEN_TTL: %q is not a duration of at least 1s, like 1h or 90s", v)
		}
		cfg.accessTTL = d
	}
	return cfg, nil
}

// allowsRedirect reports whether the browser may be sent back to uri.
func (c config) allowsRedirect(uri string) bool {
	if len(c.redirectURIs) > 0 {
		for _, allowed := range c.redirectURIs {
			if uri == allowed {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "/oauth2/idpresponse" && u.Fragment == ""
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}

// shutdownTimeout bounds how long requests in flight may take to finish
// once the provider is told to stop.
const shutdownTimeout = 5 * time.Second

// run serves the provider until ctx is done.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newProvider(cfg, key, time.Now).handler(), ReadHeaderTimeout: 10 * time.Second}
	login := "signs everyone in as " + cfg.user
	if cfg.form {
		login = "asks for a name"
	}
	fmt.Fprintf(stdout, "idp: listening on http://%s, issuer %s, client %s; %s\n", ln.Addr(), cfg.issuer, cfg.clientID, login)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
