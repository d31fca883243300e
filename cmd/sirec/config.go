package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/postgres"
	"sirec/internal/store/sqlite"
)

// DefaultDB is the embedded default database.
const DefaultDB = "sqlite:./data/sirec.db"

// DefaultRegion is the region code a new agency gets when --region is not given (Beijing, Dongcheng).
const DefaultRegion = "110101"

// dbFlags are the flags every command that opens the database shares. Flags override the environment
// (SIREC_DB, SIREC_KEYS, SIREC_REGION).
type dbFlags struct {
	DB     string
	Keys   string
	Region string
}

func (c *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.DB, "db", envOr("SIREC_DB", DefaultDB), "database: sqlite:PATH or postgres://… (env SIREC_DB)")
	fs.StringVar(&c.Keys, "keys", os.Getenv("SIREC_KEYS"), "key folder (env SIREC_KEYS; default: keys/ beside the SQLite file, ./data/keys for PostgreSQL)")
	fs.StringVar(&c.Region, "region", envOr("SIREC_REGION", DefaultRegion), "the agency's 6-digit region code, used when keys are created (env SIREC_REGION)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Validate checks the flags and fills the default key folder.
func (c *dbFlags) Validate() error {
	switch {
	case strings.HasPrefix(c.DB, "sqlite:"):
		if strings.TrimPrefix(c.DB, "sqlite:") == "" {
			return record.Invalid("db", "db_dsn", "sqlite: needs a path, e.g. sqlite:./data/sirec.db")
		}
	case strings.HasPrefix(c.DB, "postgres://"), strings.HasPrefix(c.DB, "postgresql://"):
	default:
		return record.Invalid("db", "db_dsn", "%q is neither sqlite:PATH nor postgres://…", c.DB)
	}
	if err := record.ValidateRegion("region", c.Region); err != nil {
		return err
	}
	if c.Keys == "" {
		if p, ok := strings.CutPrefix(c.DB, "sqlite:"); ok {
			c.Keys = filepath.Join(filepath.Dir(p), "keys")
		} else {
			c.Keys = filepath.Join("data", "keys")
		}
	}
	return nil
}

// openDriver opens the engine named by dsn.
func openDriver(ctx context.Context, dsn string) (store.Driver, error) {
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return sqlite.Open(p)
	}
	return postgres.Open(ctx, dsn)
}

// origin is the checkpoint origin of an agency: its region code names it.
func origin(region string) string { return "sirec.agency/" + region }

// regionOf returns the region code from a checkpoint origin.
func regionOf(k *keyring.Keyring) (string, error) {
	r, ok := strings.CutPrefix(k.Origin, "sirec.agency/")
	if !ok {
		return "", fmt.Errorf("signing key %q is not a sirec agency key", k.Origin)
	}
	return r, nil
}

// open opens the store. With create, missing keys are created first (demo and serve set up a new machine).
func (c *dbFlags) open(ctx context.Context, create bool) (*store.Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	keys, err := keyring.Load(c.Keys)
	if errors.Is(err, keyring.ErrNoKeys) && create {
		keys, err = keyring.Create(c.Keys, origin(c.Region))
		if err == nil {
			fmt.Fprintf(os.Stderr, "sirec: created the agency's keys in %s — keep a copy of this folder off site; the database cannot be verified or read without it\n", c.Keys)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("keys in %s: %w", c.Keys, err)
	}
	region, err := regionOf(keys)
	if err != nil {
		return nil, err
	}
	d, err := openDriver(ctx, c.DB)
	if err != nil {
		return nil, err
	}
	s, err := store.New(ctx, d, keys, store.Config{Region: region})
	if err != nil {
		d.Close()
		return nil, err
	}
	return s, nil
}
