// Command peer is the small helper of bench/lb.sh, the load balancer
// benchmark (make bench-lb):
//
//	peer backend  -addr 127.0.0.1:0                 a backend: GET /100, /16k and /
//	peer httputil -addr 127.0.0.1:0 -backends a,b   a bare httputil.ReverseProxy, round-robin
//	peer freeport                                   a free TCP port on 127.0.0.1
//	peer report   -runs FILE [-json OUT]            the table of a benchmark run
//
// backend and httputil print the address they listen on, one line on
// standard output, once they accept connections. Standard library only.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  peer backend  -addr HOST:PORT
  peer httputil -addr HOST:PORT -backends HOST:PORT,HOST:PORT [-idle N]
  peer freeport
  peer report   -runs FILE [-json OUT] [-title TEXT]
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "backend":
		err = runBackend(args[1:], stdout, stderr)
	case "httputil":
		err = runHTTPUtil(args[1:], stdout, stderr)
	case "freeport":
		err = runFreePort(stdout)
	case "report":
		err = runReport(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "peer: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "peer %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
