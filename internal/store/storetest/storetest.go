// Package storetest runs a test against every storage engine: SQLite in a temporary file, and PostgreSQL in a
// fresh database of the throwaway cluster that scripts/test.sh starts (SIREC_TEST_PG, a superuser DSN). The
// application connects as a non-superuser role that owns the database, as in production; Raw connects as the
// superuser, the way a database administrator could, to tamper behind the application's back.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sirec/internal/keyring"
	"sirec/internal/store"
	"sirec/internal/store/postgres"
	"sirec/internal/store/sqlite"
)

// Region is the region code of test agencies.
const Region = "110105"

// Env is one engine prepared for a test.
type Env struct {
	Engine  string // "sqlite" or "postgres"
	DSN     string // as given to --db
	KeysDir string
	Keys    *keyring.Keyring
	t       testing.TB
	rawSQL  func(ctx context.Context, q string, args ...any) error
}

// Each runs fn once per engine, as subtests named after the engines.
func Each(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			fn(t, New(t, name))
		})
	}
}

// New prepares an empty database and fresh keys on the named engine.
func New(t testing.TB, engine string) *Env {
	t.Helper()
	dir := t.TempDir()
	env := &Env{Engine: engine, KeysDir: filepath.Join(dir, "keys"), t: t}
	k, err := keyring.Create(env.KeysDir, "sirec.agency/"+Region)
	if err != nil {
		t.Fatal(err)
	}
	env.Keys = k
	switch engine {
	case "sqlite":
		path := filepath.Join(dir, "sirec.db")
		env.DSN = "sqlite:" + path
		env.rawSQL = func(ctx context.Context, q string, args ...any) error {
			db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
			if err != nil {
				return err
			}
			defer db.Close()
			// An attacker with the file drops the protecting triggers first.
			for _, tr := range sqlite.Triggers() {
				if _, err := db.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+tr); err != nil {
					return err
				}
			}
			_, err = db.ExecContext(ctx, q, args...)
			return err
		}
	case "postgres":
		env.DSN, env.rawSQL = newPostgres(t)
	default:
		t.Fatalf("unknown engine %s", engine)
	}
	return env
}

var dbCounter atomic.Int64

const appRole = "sirec_app"

func newPostgres(t testing.TB) (string, func(ctx context.Context, q string, args ...any) error) {
	t.Helper()
	super := os.Getenv("SIREC_TEST_PG")
	if super == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SIREC_TEST_PG is not set: PostgreSQL is required in CI (run the tests through scripts/test.sh)")
		}
		t.Skip("SIREC_TEST_PG is not set; run scripts/test.sh to test PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, super)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	// The role may exist from an earlier test; creating it concurrently can race, so tolerate "exists".
	if _, err := conn.Exec(ctx, "CREATE ROLE "+appRole+" LOGIN"); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sirec_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, dbCounter.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+appRole); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, super); err == nil {
			c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(super)
	if err != nil {
		t.Fatal(err)
	}
	superDB := *u
	superDB.Path = "/" + name
	app := *u
	app.User = url.User(appRole)
	app.Path = "/" + name
	raw := func(ctx context.Context, q string, args ...any) error {
		c, err := pgx.Connect(ctx, superDB.String())
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		// A superuser can switch triggers off for its session: exactly the back door verify must catch.
		if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			return err
		}
		_, err = c.Exec(ctx, q, args...)
		return err
	}
	return app.String(), raw
}

// Driver opens the engine as the application.
func (e *Env) Driver() store.Driver {
	e.t.Helper()
	ctx := context.Background()
	var d store.Driver
	var err error
	if p, ok := strings.CutPrefix(e.DSN, "sqlite:"); ok {
		d, err = sqlite.Open(p)
	} else {
		d, err = postgres.Open(ctx, e.DSN)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { d.Close() })
	return d
}

// Store opens a store as the application.
func (e *Env) Store() *store.Store {
	e.t.Helper()
	s, err := store.New(context.Background(), e.Driver(), e.Keys, store.Config{Region: Region})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// Raw runs SQL behind the application's back (SQLite: a plain connection; PostgreSQL: the superuser with
// triggers switched off). Write the SQL with $1… placeholders for PostgreSQL and ? or $1 for SQLite.
func (e *Env) Raw(q string, args ...any) {
	e.t.Helper()
	if err := e.rawSQL(context.Background(), q, args...); err != nil {
		e.t.Fatalf("raw SQL %q: %v", q, err)
	}
}

// Blob returns the SQL literal of bytes for the engine (X'..' on SQLite, '\x..'::bytea on PostgreSQL).
func (e *Env) Blob(b []byte) string {
	if e.Engine == "sqlite" {
		return fmt.Sprintf("X'%x'", b)
	}
	return fmt.Sprintf("'\\x%x'::bytea", b)
}
