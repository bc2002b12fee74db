package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache keeps response bodies so that reads need not go to the database.
// Values are the exact bytes a handler serves, so that every replica reading
// one entry answers byte for byte the same.
//
// Fetch is cache-aside: on a miss it loads the value from the database and
// stores it, unless Invalidate ran in between (the value loaded may then be
// older than the write, and is not stored: it would stay stale until it
// expires). Every write calls Invalidate, after its database commit, with the
// keys of the responses it changed.
type Cache interface {
	// Fetch returns the value under key and true, or the value load
	// returns and false. An error of load is returned as it is, and
	// nothing is cached.
	Fetch(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, bool, error)
	// Invalidate removes keys.
	Invalidate(ctx context.Context, keys ...string) error
	// Ping fails when the cache cannot be reached.
	Ping(ctx context.Context) error
	// Close releases the cache's connections.
	Close() error
	// String describes the cache for the startup log line.
	String() string
}

// Cache keys, relative to the cache's prefix.
const listKey = "items"

func itemKey(id int64) string { return "items:" + strconv.FormatInt(id, 10) }

// unreachableError says which of the app's dependencies could not be reached:
// it turns into a 503 whose body names them.
type unreachableError struct {
	deps []string // "database", "redis"
	errs []error  // one per dep
}

func unreachable(dep string, err error) *unreachableError {
	return &unreachableError{deps: []string{dep}, errs: []error{err}}
}

func (e *unreachableError) Error() string {
	parts := make([]string, len(e.deps))
	for i, dep := range e.deps {
		parts[i] = dep + " unreachable: " + e.errs[i].Error()
	}
	return strings.Join(parts, "; ")
}

func (e *unreachableError) Unwrap() []error { return e.errs }

// reason is the short text the client gets: "redis unreachable".
func (e *unreachableError) reason() string {
	return strings.Join(e.deps, " and ") + " unreachable"
}

// noCache is no cache: every read goes to the database.
type noCache struct{}

func (noCache) Fetch(ctx context.Context, _ string, load func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	v, err := load(ctx)
	return v, false, err
}
func (noCache) Invalidate(context.Context, ...string) error { return nil }
func (noCache) Ping(context.Context) error                  { return nil }
func (noCache) Close() error                                { return nil }
func (noCache) String() string                              { return "none" }

// memoryCache is a cache of this process only. A write invalidates it here,
// but other replicas keep serving what they cached until it expires: it shows
// why replicas behind a load balancer disagree.
type memoryCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]memoryEntry
	gen     uint64 // incremented by every Invalidate
}

type memoryEntry struct {
	value   []byte
	expires time.Time
}

func newMemoryCache(ttl time.Duration, now func() time.Time) *memoryCache {
	return &memoryCache{ttl: ttl, now: now, entries: map[string]memoryEntry{}}
}

func (c *memoryCache) Fetch(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.value, true, nil
	}
	v, err := load(ctx)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.entries[key] = memoryEntry{value: v, expires: c.now().Add(c.ttl)}
	}
	return v, false, nil
}

func (c *memoryCache) Invalidate(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		delete(c.entries, k)
	}
	// Expired entries of items nobody reads any more go too, so the map
	// stays as small as what is read within a TTL.
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	return nil
}

func (c *memoryCache) Ping(context.Context) error { return nil }
func (c *memoryCache) Close() error               { return nil }
func (c *memoryCache) String() string             { return "memory" }

// redisPrefix starts every key the app writes to Redis.
const redisPrefix = "catalog:"

// redisCache is a cache that every replica shares: a write through one
// replica removes the entries it changed for all of them.
//
// To keep a read that overlaps a write from storing what it read before the
// write, every Invalidate also increments a generation counter (the key
// "gen"), and a miss stores its value only if the counter is still what it
// was before the database was read (setIfGen).
type redisCache struct {
	client  *redis.Client
	prefix  string
	ttl     time.Duration // bounds how long an invalidation lost to a failure can leave a stale entry
	display string        // the URL without its password
}

// setIfGen stores ARGV[2] under KEYS[2] for ARGV[3] milliseconds if the
// generation KEYS[1] (missing means 0) is still ARGV[1].
var setIfGen = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`)

// redisTimeout bounds a connection attempt, a read and a write, unless
// REDIS_URL sets dial_timeout, read_timeout or write_timeout: short, so that
// a replica whose Redis is gone fails its requests quickly instead of
// holding them.
const redisTimeout = time.Second

// parseRedisURL checks a REDIS_URL value (redis://, rediss:// or unix://)
// and returns the client options the app uses.
func parseRedisURL(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%s (use redis://[user:password@]host:6379[/db])", strings.TrimPrefix(err.Error(), "redis: "))
	}
	for _, d := range []*time.Duration{&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout} {
		if *d == 0 {
			*d = redisTimeout
		}
	}
	// The health check's deadline must hold for Redis commands too.
	opts.ContextTimeoutEnabled = true
	// A refused connection is reported at once, not after 5 dials; a
	// command is retried once, on a new connection, as after a Redis
	// restart has cut the pooled ones.
	opts.DialerRetries = 1
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	// CLIENT SETINFO is unknown to Redis before 7.2; the app does not
	// need to announce itself.
	opts.DisableIdentity = true
	return opts, nil
}

// setRedisLogger sends go-redis's own log lines (one per failed dial, say)
// to logger at level DEBUG: the request log lines already say that Redis is
// unreachable, and why.
func setRedisLogger(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
}

type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// redactURL hides the password of a URL, for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// newRedisCache returns a cache on the Redis server of opts. It does not
// connect: a Redis that is down at startup fails the health check until it
// is up.
func newRedisCache(opts *redis.Options, prefix string, ttl time.Duration, display string) *redisCache {
	return &redisCache{client: redis.NewClient(opts), prefix: prefix, ttl: ttl, display: display}
}

func (c *redisCache) Fetch(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	genKey, fullKey := c.prefix+"gen", c.prefix+key
	vals, err := c.client.MGet(ctx, fullKey, genKey).Result()
	if err != nil {
		return nil, false, unreachable("redis", err)
	}
	if v, ok := vals[0].(string); ok {
		return []byte(v), true, nil
	}
	gen, _ := vals[1].(string)
	if gen == "" {
		gen = "0"
	}
	v, err := load(ctx)
	if err != nil {
		return nil, false, err
	}
	err = setIfGen.Run(ctx, c.client, []string{genKey, fullKey}, gen, v, c.ttl.Milliseconds()).Err()
	if err != nil {
		return nil, false, unreachable("redis", err)
	}
	return v, false, nil
}

func (c *redisCache) Invalidate(ctx context.Context, keys ...string) error {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, c.prefix+"gen")
		p.Del(ctx, full...)
		return nil
	})
	if err != nil {
		return unreachable("redis", err)
	}
	return nil
}

func (c *redisCache) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return unreachable("redis", err)
	}
	return nil
}

func (c *redisCache) Close() error   { return c.client.Close() }
func (c *redisCache) String() string { return c.display }
