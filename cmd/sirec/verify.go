package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"sirec/internal/keyring"
	"sirec/internal/store"
	"sirec/internal/web"
)

// runVerify checks the journal against its Merkle tree and the signed checkpoints, and the projections against
// a replay. Its last line is "ok events=N root=<hex>" and it exits 0, or it names the first bad event or row
// and exits 1. It needs only the database and the public verifier key.
func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	quiet := fs.Bool("quiet", false, "print no progress")
	journalOnly := fs.Bool("journal-only", false, "check the journal and its signed checkpoints only, not the projections (faster)")
	keep := fs.Bool("record", true, "keep the outcome of a full verification in the database, for the console's journal page")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	v, err := keyring.LoadVerifier(c.Keys)
	if err != nil {
		return fmt.Errorf("verifier key in %s: %w", c.Keys, err)
	}
	d, err := openDriver(ctx, c.DB)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := store.Migrate(ctx, d, nowUTC()); err != nil {
		return err
	}
	var progress store.Progress
	if !*quiet {
		progress = func(done, total int64) {
			fmt.Fprintf(os.Stderr, "\rverify: %d / %d events", done, total)
		}
	}
	var rep store.VerifyReport
	started := time.Now()
	if *journalOnly {
		rep, err = store.VerifyJournal(ctx, d, v, progress)
	} else {
		rep, err = store.Verify(ctx, d, v, store.DefaultRules(), progress)
	}
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	if *keep && !*journalOnly && (err == nil || errors.Is(err, store.ErrTampered)) {
		if rerr := web.RecordVerifyRun(ctx, d, verifyRun(started, rep, err)); rerr != nil {
			fmt.Fprintln(os.Stderr, "verify: the outcome could not be kept in the database:", rerr)
		}
	}
	if err != nil {
		fmt.Println("FAIL", err)
		return &exitError{code: 1}
	}
	if *journalOnly {
		fmt.Printf("checkpoints=%d projections not checked (--journal-only)\n", rep.Checkpoints)
	} else {
		fmt.Printf("checkpoints=%d projection rows=%d\n", rep.Checkpoints, sum(rep.Rows))
	}
	fmt.Printf("ok events=%d root=%s\n", rep.Events, rep.RootHex())
	return nil
}

// verifyRun is the outcome of a verification as the console lists it.
func verifyRun(started time.Time, rep store.VerifyReport, err error) web.VerifyRun {
	r := web.VerifyRun{StartedAt: started, FinishedAt: time.Now(), Actor: web.VerifyByCLI, OK: err == nil, Events: rep.Events,
		Checkpoints: int64(rep.Checkpoints), Rows: sum(rep.Rows)}
	if err == nil {
		r.Root = rep.RootHex()
	} else {
		r.Message = err.Error()
	}
	return r
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
