// Package registry runs a container registry inside shoal: the stand-in for
// ECR in the tutorial shoal reproduces. After
//
//	docker build -t 127.0.0.1:5000/catalog:1 . && docker push 127.0.0.1:5000/catalog:1
//
// a task definition can name the image 127.0.0.1:5000/catalog:1. Docker
// treats registries on 127.0.0.0/8 as insecure (plain HTTP) without any
// configuration, which is why the registry listens on a loopback address and
// needs no TLS.
//
// The registry protocol is go-containerregistry's pkg/registry, an OCI
// distribution registry as an http.Handler. Blobs (layers and image configs)
// it keeps wherever its BlobHandler says: here its disk handler, under
// Dir/blobs/sha256/<hex>. Manifests and tags it keeps only in memory, so
// this package makes them survive a restart, the simplest way that leaves
// pkg/registry the only code that answers reads:
//
//   - every manifest PUT or DELETE that pkg/registry accepts is mirrored to
//     disk before the client hears the answer, one file per name
//     pkg/registry holds it under (the tag or digest the client used, and
//     the manifest's digest): Dir/repositories/<name>/_manifests/<ref>,
//     holding the media type on the first line and then the manifest's exact
//     bytes (so its digest is unchanged), written atomically;
//   - Serve replays those files into a fresh pkg/registry handler, as
//     in-process PUTs, before it accepts a connection.
//
// GET, HEAD, tag lists and the catalog are pkg/registry's own, unchanged.
// One difference survives a restart: a PUT by tag also files the manifest
// under its digest (as pkg/registry does), so a digest deleted while a tag
// still names its manifest comes back. shoal never deletes manifests.
//
// Two properties of pkg/registry v0.22.1 worth knowing: its disk handler
// renames a finished blob into place without fsync, but hashes a blob again
// whenever it is asked for one, so a blob a crash left short reads as
// missing and the next push uploads it again; and a layer being pushed is
// held in memory until its upload ends.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// DefaultAddress is where the registry listens when Options.Address is
// empty: the port Docker's own registry image uses, on loopback.
const DefaultAddress = "127.0.0.1:5000"

// ErrNotLoopback is returned by Serve for an address other machines could
// reach, unless Options.AllowRemote is set.
var ErrNotLoopback = errors.New("registry: not a loopback address")

// Options configure the registry.
type Options struct {
	// Address is the host:port to listen on. Default "127.0.0.1:5000". Port 0
	// picks a free port (Addr says which). It must be a loopback address
	// (127.0.0.0/8, ::1 or localhost) unless AllowRemote is set.
	Address string
	// AllowRemote lets Address be reachable from other machines. The
	// registry has no authentication: anyone who can connect can push and
	// pull any image. Default false.
	AllowRemote bool
	// Dir is where blobs and manifests live (the state directory's
	// registry/ folder). Required; created if missing.
	Dir string
	// Log receives one Debug line per request (method, path, status). Nil
	// discards.
	Log *slog.Logger
}

// Validate reports the first problem with the options, after defaults.
func (o Options) Validate() error {
	if o.Dir == "" {
		return errors.New("registry: no directory given: set Options.Dir to the state directory's registry/ folder")
	}
	host, _, err := net.SplitHostPort(o.Address)
	if err != nil {
		return fmt.Errorf("registry: address %q: %v: write host:port, such as %s", o.Address, err, DefaultAddress)
	}
	if !o.AllowRemote && !isLoopback(host) {
		return fmt.Errorf("%w: %q: anyone who can reach it could push and pull images, as the registry has no authentication; listen on %s (or another 127.0.0.0/8 address), or allow remote access explicitly", ErrNotLoopback, o.Address, DefaultAddress)
	}
	return nil
}

// isLoopback reports whether host (an IP address or localhost) is only
// reachable from this machine. An empty host means every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (o Options) withDefaults() Options {
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Registry is a running registry. Close stops it.
type Registry struct {
	srv  *http.Server
	addr string
	done chan error // the serving goroutine's result, sent once

	closeOnce sync.Once
	closeErr  error
}

// Serve starts the registry. It listens before it returns, so a busy port is
// an error at once, and it has replayed the manifests saved in Dir before it
// answers a request.
func Serve(opts Options) (*Registry, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return nil, listenError(opts.Address, err)
	}
	h, err := newHandler(opts.Dir, opts.Log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	r := &Registry{
		srv: &http.Server{
			Handler: h,
			// No ReadTimeout: a layer upload takes as long as it takes.
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	opts.Log.Info("registry listening", "address", r.addr, "dir", opts.Dir)
	return r, nil
}

// listenError explains a failed listen. A busy port is the common case, and
// the programs that usually hold port 5000 are named.
func listenError(addr string, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("registry: listening on %s: %w", addr, err)
	}
	_, port, _ := net.SplitHostPort(addr)
	return fmt.Errorf("registry: %s is in use by another program: "+
		"find it with `lsof -nP -iTCP:%s -sTCP:LISTEN` and stop it "+
		"(often a registry container: see `docker ps`; on macOS, AirPlay Receiver holds port 5000: "+
		"turn it off in System Settings > General > AirDrop & Handoff), "+
		"or give the registry another address: %w", addr, port, err)
}

// Addr is the bound host:port, with the port chosen when Address asked for 0.
func (r *Registry) Addr() string { return r.addr }

// Close stops taking connections, waits for requests in flight to finish
// until ctx ends (then cuts them), and waits for the serving goroutine to
// return. Calling it again returns the first result.
func (r *Registry) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		err := r.srv.Shutdown(ctx)
		if err != nil {
			r.srv.Close() // ctx ended with requests in flight
		}
		if serr := <-r.done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("registry: serving stopped early: %w", serr))
		}
		r.closeErr = err
	})
	return r.closeErr
}
