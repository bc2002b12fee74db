// Command server is the program of the Nomad end-to-end test's stack
// (agent_test.go): an HTTP server on $HOST:$PORT that answers its health
// check on /healthz and its version ($VERSION) on /. With CRASH set it
// exits at once, as a broken release would, so that the deployment that
// brings it in fails and Nomad reverts it.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	if os.Getenv("CRASH") != "" {
		log.Fatalf("CRASH=%s: exiting", os.Getenv("CRASH"))
	}
	version := os.Getenv("VERSION")
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, version) })
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	log.Printf("version %s listening on %s", version, addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
