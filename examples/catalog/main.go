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

	"github.com/redis/go-redis/v9"
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
	cache    string // CACHE: none, memory or redis; default redis if REDIS_URL is set, else none
	cacheTTL time.Duration
	redis    *redis.Options // REDIS_URL, parsed; set when cache is redis
	redisURL string         // REDIS_URL without its password
	alb      albConfig      // ALB_PUBLIC_KEY_URL, ALB_PUBLIC_KEY_CA, ALB_ARN: for GET /whoami
}

// defaultCacheTTL is CACHE_TTL's default.
const defaultCacheTTL = 30 * time.Second

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
	cfg := config{
		addr:     net.JoinHostPort(host, strconv.FormatUint(n, 10)),
		database: src,
		taskID:   envOr(getenv, "SHOAL_TASK_ID", defaultTaskID()),
	}
	if err := loadCacheConfig(getenv, &cfg); err != nil {
		return config{}, err
	}
	if cfg.alb, err = loadALBConfig(getenv); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// loadCacheConfig reads CACHE, CACHE_TTL and REDIS_URL into cfg.
func loadCacheConfig(getenv func(string) string, cfg *config) error {
	redisURL := getenv("REDIS_URL")
	cfg.cache = getenv("CACHE")
	switch {
	case cfg.cache == "" && redisURL != "":
		cfg.cache = "redis"
	case cfg.cache == "":
		cfg.cache = "none"
	case cfg.cache == "redis" && redisURL == "":
		return errors.New(`CACHE: "redis" needs REDIS_URL, e.g. redis://127.0.0.1:6379/0`)
	case cfg.cache == "none" || cfg.cache == "memory":
		if redisURL != "" {
			return fmt.Errorf("CACHE: %q but REDIS_URL is set: unset REDIS_URL, or CACHE to use Redis", cfg.cache)
		}
	case cfg.cache != "redis":
		return fmt.Errorf("CACHE: %q is not a cache; use none, memory or redis", cfg.cache)
	}
	cfg.cacheTTL = defaultCacheTTL
	if v := getenv("CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond {
			return fmt.Errorf("CACHE_TTL: %q is not a duration of at least 1ms, like 30s or 1m", v)
		}
		cfg.cacheTTL = d
	}
	if cfg.cache == "redis" {
		opts, err := parseRedisURL(redisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		cfg.redis, cfg.redisURL = opts, redactURL(redisURL)
	}
	return nil
}

// newCache returns the cache cfg asks for.
func newCache(cfg config) Cache {
	switch cfg.cache {
	case "memory":
		return newMemoryCache(cfg.cacheTTL, time.Now)
	case "redis":
		return newRedisCache(cfg.redis, redisPrefix, cfg.cacheTTL, cfg.redisURL)
	default:
		return noCache{}
	}
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
	claims, err := newClaimsVerifier(cfg.alb, time.Now)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))
	setRedisLogger(logger)
	store, err := OpenStore(ctx, cfg.database)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}()
	cache := newCache(cfg)
	defer func() {
		if cerr := cache.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close cache: %w", cerr))
		}
	}()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(store, cache, claims, cfg.taskID, logger),
		ReadHeaderTimeout: 10 * time.Second,
		// Longer than a load balancer's idle timeout (60 s on ALB), so
		// the balancer, not the target, closes idle keep-alive
		// connections.
		IdleTimeout: 75 * time.Second,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	attrs := []any{"addr", ln.Addr().String(), "database", cfg.database.String(), "task", cfg.taskID, "cache", cfg.cache}
	switch cfg.cache {
	case "redis":
		attrs = append(attrs, "redis", cache.String(), "cache_ttl", cfg.cacheTTL)
	case "memory":
		attrs = append(attrs, "cache_ttl", cfg.cacheTTL)
	}
	if cfg.alb.keyURL != "" {
		attrs = append(attrs, "alb_public_key_url", cfg.alb.keyURL)
	}
	logger.Info("catalog listening", attrs...)
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
