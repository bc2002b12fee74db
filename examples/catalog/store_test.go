package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// forEachBackend runs f against a fresh, empty database of every kind: a
// SQLite file always, PostgreSQL when SHOAL_TEST_POSTGRES_URL is set.
func forEachBackend(t *testing.T, f func(t *testing.T, databaseURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteURL(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, postgresURL(t)) })
}

// sqliteURL names a SQLite file that does not exist yet.
func sqliteURL(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "catalog.db")
}

// postgresURL creates a schema of its own in the server named by
// SHOAL_TEST_POSTGRES_URL, drops it when the test ends, and returns a URL
// whose connections use it (search_path), so tests never share a table.
func postgresURL(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("SHOAL_TEST_POSTGRES_URL")
	if raw == "" {
		t.Skip("PostgreSQL tests skipped: set SHOAL_TEST_POSTGRES_URL, e.g. " +
			"postgres://shoal:shoal@127.0.0.1:5432/postgres?sslmode=disable " +
			"(the role needs CREATE on that database; each test makes and drops its own schema)")
	}
	schema := "catalog_test_" + strings.ToLower(rand.Text())
	db, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openStore opens a store on databaseURL, closed when the test ends.
func openStore(t *testing.T, databaseURL string) *Store {
	t.Helper()
	src, err := ParseSource(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		name, raw   string
		wantDriver  string
		wantDisplay string
	}{
		{"relative sqlite", "sqlite:catalog.db", "sqlite", "sqlite:catalog.db"},
		{"relative sqlite in a folder", "sqlite:data/catalog.db", "sqlite", "sqlite:data/catalog.db"},
		{"absolute sqlite", "sqlite:///var/lib/catalog.db", "sqlite", "sqlite:/var/lib/catalog.db"},
		{"postgres", "postgres://u:secret@db:5432/catalog", "pgx", "postgres://u:xxxxx@db:5432/catalog"},
		{"postgresql", "postgresql://db/catalog?sslmode=disable", "pgx", "postgresql://db/catalog?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := ParseSource(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if src.dialect.driver != tt.wantDriver {
				t.Errorf("driver: got %q, want %q", src.dialect.driver, tt.wantDriver)
			}
			if src.String() != tt.wantDisplay {
				t.Errorf("display: got %q, want %q", src.String(), tt.wantDisplay)
			}
		})
	}
}

func TestParseSource_Rejects(t *testing.T) {
	tests := []struct{ name, raw, wantErr string }{
		{"unknown scheme", "mysql://db/catalog", `unsupported scheme "mysql"; use sqlite:`},
		{"no scheme", "catalog.db", "has no scheme; use sqlite:"},
		{"empty sqlite path", "sqlite:", "missing file path"},
		{"sqlite host", "sqlite://host/catalog.db", "a host is not allowed"},
		{"in-memory sqlite", "sqlite::memory:", "cannot be shared by replicas"},
		{"query in sqlite path", "sqlite:catalog.db?mode=ro", "must not contain ?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSource(tt.raw)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDialect_Rebind(t *testing.T) {
	q := "INSERT INTO items (id, name) VALUES (?, ?), (?, ?)"
	if got := sqliteDialect.rebind(q); got != q {
		t.Errorf("sqlite: got %q, want %q", got, q)
	}
	want := "INSERT INTO items (id, name) VALUES ($1, $2), ($3, $4)"
	if got := postgresDialect.rebind(q); got != want {
		t.Errorf("postgres: got %q, want %q", got, want)
	}
}

func TestStore_SeedsOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		openStore(t, databaseURL).Close()
		s := openStore(t, databaseURL)
		items, err := s.Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(seed, items); diff != "" {
			t.Errorf("items after opening twice (-want +got):\n%s", diff)
		}
	})
}

func TestStore_ReplicasStartingTogether(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		src, err := ParseSource(databaseURL)
		if err != nil {
			t.Fatal(err)
		}
		const replicas = 3
		stores := make([]*Store, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() { stores[i], errs[i] = OpenStore(t.Context(), src) })
		}
		wg.Wait()
		for i, s := range stores {
			if errs[i] != nil {
				t.Fatalf("replica %d: %v", i, errs[i])
			}
			t.Cleanup(func() { s.Close() })
		}
		items, err := stores[0].Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(seed, items); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
	})
}

func TestStore_ReplicasSeeEachOthersWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		a, b := openStore(t, databaseURL), openStore(t, databaseURL)
		created, err := a.Create(t.Context(), "mocha")
		if err != nil {
			t.Fatal(err)
		}
		if created.ID <= int64(len(seed)) || created.Name != "mocha" {
			t.Errorf("created %+v, want a new id and name mocha", created)
		}
		got, err := b.Item(t.Context(), created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(created, got); diff != "" {
			t.Errorf("item seen by the other replica (-want +got):\n%s", diff)
		}
		items, err := b.Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append(seed[:len(seed):len(seed)], created), items); diff != "" {
			t.Errorf("items seen by the other replica (-want +got):\n%s", diff)
		}
	})
}

func TestStore_ItemNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		_, err := openStore(t, databaseURL).Item(t.Context(), 999)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

// TestReplicas_ConcurrentPOSTs runs two replicas of the HTTP API on one
// database, as shoal does, and posts to both at once.
func TestReplicas_ConcurrentPOSTs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		const perReplica = 50
		replicas := []string{
			newTestServer(t, openStore(t, databaseURL), "task-a").URL,
			newTestServer(t, openStore(t, databaseURL), "task-b").URL,
		}
		var wg sync.WaitGroup
		created := make(chan Item, len(replicas)*perReplica)
		for r, base := range replicas {
			for i := range perReplica {
				wg.Go(func() {
					name := fmt.Sprintf("item %d-%d", r, i)
					resp := do(t, "POST", base+"/items", "application/json", `{"name":"`+name+`"}`)
					if resp.status != 201 {
						t.Errorf("POST %s: got status %d (%s), want 201", name, resp.status, resp.body)
						return
					}
					created <- decode[Item](t, resp)
				})
			}
		}
		wg.Wait()
		close(created)
		ids := map[int64]bool{}
		for it := range created {
			if ids[it.ID] {
				t.Errorf("id %d handed out twice", it.ID)
			}
			ids[it.ID] = true
		}
		a := decode[[]Item](t, do(t, "GET", replicas[0]+"/", "", ""))
		b := decode[[]Item](t, do(t, "GET", replicas[1]+"/", "", ""))
		if want := len(seed) + len(replicas)*perReplica; len(a) != want {
			t.Errorf("got %d items, want %d", len(a), want)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("replicas disagree (-task-a +task-b):\n%s", diff)
		}
	})
}
