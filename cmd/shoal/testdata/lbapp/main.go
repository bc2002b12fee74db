// Command lbapp is the target application of the load balancer's
// end-to-end tests (e2e_lb_test.go): a few endpoints that behave the way
// the tests need a target to behave, fast or slow or stalled, and a record
// of the raw bytes that reached it, to tell what the load balancer
// forwarded byte for byte.
//
// It listens on $HOST:$PORT.
//
//   - GET /health answers 200 "ok", or 503 until HEALTHY_AFTER (a Go
//     duration) has passed since the start when it is set.
//   - /upload reads the request's body to its end and answers 200 with its
//     size in bytes ("N\n", and in the header X-Body-Bytes).
//   - /stall answers 200 with Content-Length 1 MiB, sends the first 5 bytes
//     of the body ("start"), and then nothing until the request ends (the
//     load balancer closes the connection).
//   - /echo reads the request's body to its end and answers 200 with the
//     raw bytes its connection received since the previous /echo on it (or
//     since it opened): the request's head and body exactly as they came.
//     It needs RECORD=1.
//   - GET /_raw answers, as JSON, the raw bytes of every connection since
//     the last POST /_raw/reset ([{"conn": N, "bytes": base64, "closed":
//     bool}], in the order the connections were accepted), leaving out the
//     connections that carried health checks or /_raw requests. It needs
//     RECORD=1.
//   - Anything else answers 200 with the task's id (SHOAL_TASK_ID) in the
//     body and in X-Served-By, and X-Checked: 1 once a health check has
//     passed on this task, 0 before: a request that reaches a target
//     before its first passing check says so.
//
// On SIGTERM it stops taking connections and finishes the requests in
// flight, for up to 4 seconds.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	task := os.Getenv("SHOAL_TASK_ID")
	var healthyAfter time.Duration
	if s := os.Getenv("HEALTHY_AFTER"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("HEALTHY_AFTER %q: %v", s, err)
		}
		healthyAfter = d
	}
	started := time.Now()
	var checked atomic.Bool
	rec := &recorder{on: os.Getenv("RECORD") == "1"}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(started) < healthyAfter {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		checked.Store(true)
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, fmt.Sprintf("read %d bytes, then %v", n, err), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Body-Bytes", strconv.FormatInt(n, 10))
		fmt.Fprintf(w, "%d\n", n)
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		io.WriteString(w, "start")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, _ := r.Context().Value(connKey{}).(*recConn)
		if c == nil {
			http.Error(w, "start lbapp with RECORD=1 to echo raw requests", http.StatusNotImplemented)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(c.sinceMark())
	})
	mux.HandleFunc("GET /_raw", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec.dump())
	})
	mux.HandleFunc("POST /_raw/reset", func(w http.ResponseWriter, r *http.Request) {
		rec.reset()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Served-By", task)
		if checked.Load() {
			w.Header().Set("X-Checked", "1")
		} else {
			w.Header().Set("X-Checked", "0")
		}
		io.WriteString(w, task+"\n")
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	if rec.on {
		ln = recListener{ln, rec}
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("lbapp %s listening on %s (healthy after %v, recording %v)", task, ln.Addr(), healthyAfter, rec.on)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-drained
}

// connKey is the context key of a request's *recConn.
type connKey struct{}

// recorder keeps the raw bytes of every accepted connection.
type recorder struct {
	on    bool
	mu    sync.Mutex
	conns []*recConn
	next  int
}

type recListener struct {
	net.Listener
	rec *recorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	l.rec.next++
	rc := &recConn{Conn: c, id: l.rec.next}
	l.rec.conns = append(l.rec.conns, rc)
	return rc, nil
}

// rawConn is one connection's bytes in GET /_raw.
type rawConn struct {
	Conn   int    `json:"conn"`
	Bytes  []byte `json:"bytes"`
	Closed bool   `json:"closed"`
}

// dump returns the bytes received since the last reset on the connections
// that carried neither health checks nor /_raw requests.
func (r *recorder) dump() []rawConn {
	r.mu.Lock()
	conns := append([]*recConn(nil), r.conns...)
	r.mu.Unlock()
	out := []rawConn{}
	for _, c := range conns {
		c.mu.Lock()
		first, b, closed := c.first, bytes.Clone(c.buf[c.reset:]), c.closed
		c.mu.Unlock()
		if len(b) == 0 || bytes.HasPrefix(first, []byte("GET /health ")) || bytes.Contains(first[:min(len(first), 16)], []byte(" /_raw")) {
			continue
		}
		out = append(out, rawConn{Conn: c.id, Bytes: b, Closed: closed})
	}
	return out
}

// reset forgets the bytes received so far, and the connections closed.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.conns[:0]
	for _, c := range r.conns {
		c.mu.Lock()
		c.reset, c.mark = len(c.buf), len(c.buf)
		closed := c.closed
		c.mu.Unlock()
		if !closed {
			kept = append(kept, c)
		}
	}
	r.conns = kept
}

// recConn is an accepted connection that keeps every byte read from it.
type recConn struct {
	net.Conn
	id     int
	mu     sync.Mutex
	buf    []byte
	first  []byte // the first bytes ever read, to tell what the connection is for
	reset  int    // where the bytes since the last reset start
	mark   int    // where the bytes since the last /echo start
	closed bool
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.buf = append(c.buf, p[:n]...)
		if len(c.first) < 32 {
			c.first = c.buf[:min(len(c.buf), 32)]
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *recConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// sinceMark returns the bytes read since the last call, and moves the mark.
func (c *recConn) sinceMark() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf[c.mark:])
	c.mark = len(c.buf)
	return b
}
