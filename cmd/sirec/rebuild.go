package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

// runRebuild drops every projection and rebuilds it from the journal.
func runRebuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	err = s.Rebuild(ctx, func(done, total int64) {
		fmt.Fprintf(os.Stderr, "\rrebuild: %d / %d events", done, total)
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("rebuilt projections from %d events\n", counts["journal_events"])
	return nil
}
