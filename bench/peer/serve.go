package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// backendHandler answers GET /100 with 100 bytes, GET /16k with 16 KiB and
// GET / (the health check) with "ok", each with a Content-Length, so that
// every connection stays alive. GET /_conns says how many connections it
// accepted so far, to check that a balancer keeps its connections to the
// backends alive.
type backendHandler struct {
	routes map[string]response
	conns  atomic.Int64
}

type response struct {
	body   []byte
	length []string
}

var textPlain = []string{"text/plain; charset=utf-8"}

func newBackendHandler() *backendHandler {
	h := &backendHandler{routes: map[string]response{}}
	for path, body := range map[string][]byte{
		"/":    []byte("ok\n"),
		"/100": bytes.Repeat([]byte("x"), 100),
		"/16k": bytes.Repeat([]byte("x"), 16<<10),
	} {
		h.routes[path] = response{body: body, length: []string{strconv.Itoa(len(body))}}
	}
	return h
}

func (h *backendHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, ok := h.routes[r.URL.Path]
	if !ok {
		if r.URL.Path == "/_conns" {
			fmt.Fprintln(w, h.conns.Load())
			return
		}
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = textPlain
	hdr["Content-Length"] = resp.length
	if r.Method == http.MethodHead {
		return
	}
	w.Write(resp.body)
}

func runBackend(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peer backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := newBackendHandler()
	return serve(*addr, h, func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.conns.Add(1)
		}
	}, stdout, stderr)
}

// roundRobinProxy is a bare httputil.ReverseProxy that sends each request
// to the next backend in turn; only the idle pool is sized, so that the
// connections to the backends stay alive under load (the default keeps 2
// per host).
func roundRobinProxy(backends []*url.URL, idlePerHost int, errorLog *log.Logger) *httputil.ReverseProxy {
	var next atomic.Uint64
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backends[(next.Add(1)-1)%uint64(len(backends))])
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: idlePerHost,
			IdleConnTimeout:     60 * time.Second,
		},
		ErrorLog: errorLog,
	}
}

func parseBackends(list string) ([]*url.URL, error) {
	var us []*url.URL
	for _, b := range strings.Split(list, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("backend %q: want host:port", b)
		}
		us = append(us, &url.URL{Scheme: "http", Host: b})
	}
	if len(us) == 0 {
		return nil, errors.New("-backends: give at least one host:port")
	}
	return us, nil
}

func runHTTPUtil(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peer httputil", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	list := fs.String("backends", "", "comma-separated host:port of the backends, used in turn")
	idle := fs.Int("idle", 100, "idle connections kept per backend (shoal keeps 100 per target)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	backends, err := parseBackends(*list)
	if err != nil {
		return err
	}
	return serve(*addr, roundRobinProxy(backends, *idle, log.New(stderr, "peer httputil: ", 0)), nil, stdout, stderr)
}

// serve listens on addr, prints the address it got, and serves h until
// SIGTERM or SIGINT; connState, when not nil, is the server's ConnState.
func serve(addr string, h http.Handler, connState func(net.Conn, http.ConnState), stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:   h,
		ConnState: connState,
		ErrorLog:  log.New(stderr, "", 0),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintln(stdout, ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runFreePort(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	_, err = fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
	return err
}
