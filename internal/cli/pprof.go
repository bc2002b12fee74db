package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
)

// startPprof serves Go's profiles (net/http/pprof) on addr, a loopback
// host:port, for `shoal up --pprof`: what docs/performance.md uses to see
// where the load balancer's time goes. It returns the bound address and
// what stops the server and waits for it.
func startPprof(addr string, log *slog.Logger) (bound string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --pprof %q: write host:port, like 127.0.0.1:6060", errUsage, addr)
	}
	if ip, perr := netip.ParseAddr(host); host != "localhost" && (perr != nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("%w: --pprof %q: profiles show the process's memory; serve them on a loopback address, like 127.0.0.1:6060", errUsage, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	e := serveEndpoint(ln, mux, log)
	return e.addr, func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a profile being taken is cut short
		e.Close(ctx)
	}, nil
}
