package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"sirec/internal/custody"
	"sirec/internal/keyring"
)

// runMigrate moves everything from one database to another — SQLite ⇄ PostgreSQL — and proves the copy; the
// source is only read and is kept as it was, for checking (R9.4).
func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var from, to dbFlags
	fs.StringVar(&from.DB, "from", "", "the source database: sqlite:PATH or postgres://… (only read)")
	fs.StringVar(&to.DB, "to", "", "the destination database, empty: sqlite:PATH or postgres://…")
	fs.StringVar(&from.Keys, "keys", os.Getenv("SIREC_KEYS"), "the agency's key folder, the same for both (env SIREC_KEYS; default: keys/ beside a SQLite source)")
	force := fs.Bool("force", false, "discard everything the destination holds — its journal included — first")
	quiet := fs.Bool("quiet", false, "print no progress")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if from.DB == "" || to.DB == "" {
		fmt.Fprintln(os.Stderr, "usage: sirec migrate --from DSN --to DSN [--keys DIR] [--force]")
		return &exitError{code: 2}
	}
	from.Region, to.Region, to.Keys = DefaultRegion, DefaultRegion, "-"
	if err := from.Validate(); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	if err := to.Validate(); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if from.DB == to.DB {
		return fmt.Errorf("--from and --to name the same database")
	}
	if p, ok := strings.CutPrefix(from.DB, "sqlite:"); ok {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	keys, err := keyring.Load(from.Keys)
	if err != nil {
		return fmt.Errorf("keys in %s: %w", from.Keys, err)
	}
	src, err := openDriver(ctx, from.DB)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openDriver(ctx, to.DB)
	if err != nil {
		return err
	}
	defer dst.Close()
	rep, err := custody.Migrate(ctx, src, dst, custody.MigrateOptions{Keys: keys, Force: *force, Progress: stageProgress(*quiet)})
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	fmt.Print(rep.Text())
	if err != nil {
		return &exitError{code: 1}
	}
	return nil
}
