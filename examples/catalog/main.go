// Command catalog is shoal's sample web API: a small list of items kept in a
// database that every replica shares. Several copies run behind shoal's load
// balancer, which uses GET / as their health check.
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownTimeout bounds how long in-flight requests may take to finish after
// SIGTERM. It is below the 30 s that ECS (and shoal) wait before SIGKILL.
const shutdownTimeout = 25 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

// config is the app's configuration, read from the environment.
type config struct {
	addr     string // HOST:PORT; HOST defaults to 127.0.0.1, PORT to 3000 (0 picks a free port)
	database Source // DATABASE_URL, default sqlite:catalog.db
	taskID   string // SHOAL_TASK_ID, default hostname-pid
}

func loadConfig(getenv func(string) string) (config, error) {
	host := envOr(getenv, "HOST", "127.0.0.1")
	port := envOr(getenv, "PORT", "3000")
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return config{}, fmt.Errorf("PORT: %q is not a port number (0-65535)", port)
	}
	src, err := ParseSource(envOr(getenv, "DATABASE_URL", "sqlite:catalog.db"))
	if err != nil {
		return config{}, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return config{
		addr:     net.JoinHostPort(host, strconv.FormatUint(n, 10)),
		database: src,
		taskID:   envOr(getenv, "SHOAL_TASK_ID", defaultTaskID()),
	}, nil
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}

// defaultTaskID names this process when shoal has not: hostname-pid.
func defaultTaskID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// run serves the catalog until ctx is done, then shuts down gracefully.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	store, err := OpenStore(ctx, cfg.database)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(store, cfg.taskID, logger),
		ReadHeaderTimeout: 10 * time.Second,
		// Longer than a load balancer's idle timeout (60 s on ALB), so
		// the balancer, not the target, closes idle keep-alive
		// connections.
		IdleTimeout: 75 * time.Second,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("catalog listening", "addr", ln.Addr().String(), "database", cfg.database.String(), "task", cfg.taskID)
	return serve(ctx, srv, ln, logger)
}

// serve runs srv on ln until ctx is done, then stops accepting connections
// and waits, up to shutdownTimeout, for in-flight requests to finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("catalog shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-errc
		return fmt.Errorf("shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed, returned as soon as Shutdown began
	return nil
}
