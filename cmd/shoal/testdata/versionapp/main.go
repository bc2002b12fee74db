// Command versionapp is the application of the strategy end-to-end tests
// (e2e_strategy_test.go): it says which release it is, so that a test can
// tell blue's answers from green's.
//
// It listens on $HOST:$PORT. GET /health answers 200, always. Any other
// request answers 200 with the header X-Version: $RELEASE and the body
// "$RELEASE\n", unless FAIL_PERCENT (P, 0-100) is set: then request number
// n (counted from 0, health checks aside) answers 500 when n×P mod 100 < P.
// That is exactly P failures in every 100 requests in a row, as n%100 < P,
// but spread out (every 5th with 20) rather than the first P of each 100
// in a burst, so that a short canary sees the share it is configured with.
// On SIGTERM it stops taking connections and finishes the requests in
// flight.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	release := os.Getenv("RELEASE")
	failPercent, err := strconv.ParseUint(os.Getenv("FAIL_PERCENT"), 10, 8)
	if err != nil && os.Getenv("FAIL_PERCENT") != "" || failPercent > 100 {
		log.Fatalf("FAIL_PERCENT %q: want a whole number 0-100", os.Getenv("FAIL_PERCENT"))
	}
	var seq atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", release)
		if n := seq.Add(1) - 1; n*failPercent%100 < failPercent {
			http.Error(w, "failing on purpose (FAIL_PERCENT="+strconv.FormatUint(failPercent, 10)+")", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s\n", release)
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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
	log.Printf("versionapp release %q (failing %d%%) listening on %s", release, failPercent, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-drained // Serve returns at once; the requests in flight end here
	log.Printf("versionapp release %q stopped", release)
}
