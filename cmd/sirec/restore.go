package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"sirec/internal/custody"
	"sirec/internal/keyring"
	"sirec/internal/store"
)

// runRestore restores a backup into an empty database and proves it (the checks of backup verify, on the
// target). With --force a database holding data is emptied first — everything in it, the journal included.
func runRestore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	identity := fs.String("identity", os.Getenv("SIREC_BACKUP_IDENTITY"), "age identity file that decrypts the backup (env SIREC_BACKUP_IDENTITY; default: backup.key in the key folder)")
	force := fs.Bool("force", false, "discard everything the target database holds — its journal included — before restoring")
	quiet := fs.Bool("quiet", false, "print no progress")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "usage: sirec restore URL --db DSN [--keys DIR] [--identity FILE] [--force]")
		return &exitError{code: 2}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	v, err := keyring.LoadVerifier(c.Keys)
	if err != nil {
		return fmt.Errorf("verifier key in %s: %w (the restored database is checked, and later served, with the agency's keys: copy the key folder there or pass --keys)", c.Keys, err)
	}
	ids, err := loadIdentities(*identity, c.Keys)
	if err != nil {
		return err
	}
	d, err := openDriver(ctx, c.DB)
	if err != nil {
		return err
	}
	defer d.Close()
	if *force {
		occ, err := store.Occupied(ctx, d)
		if err != nil {
			return err
		}
		if len(occ) > 0 {
			var parts []string
			for t, n := range occ {
				parts = append(parts, fmt.Sprintf("%s %d", t, n))
			}
			fmt.Fprintf(os.Stderr, "sirec: --force: discarding everything the target holds (%s)\n", strings.Join(parts, ", "))
		}
	}
	rep, err := custody.Restore(ctx, pos[0], d, custody.RestoreOptions{Verifier: v, Identities: ids, Force: *force, Progress: stageProgress(*quiet)})
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	fmt.Print(rep.Text())
	if err != nil {
		return &exitError{code: 1}
	}
	return nil
}
