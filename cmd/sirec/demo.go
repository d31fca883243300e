package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"sirec/internal/demo"
)

// runDemo records a deterministic synthetic dataset through the normal append path.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	var o demo.Options
	fs.IntVar(&o.Persons, "persons", 1000, "number of insured persons")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed: the same seed gives the same data")
	fs.IntVar(&o.FromYear, "from", 2019, "first year of monthly contributions")
	fs.IntVar(&o.Years, "years", 6, "years of monthly contributions")
	fs.IntVar(&o.BatchSize, "batch", 20000, "facts per append transaction")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	s, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	o.Progress = progressPrinter()
	start := time.Now()
	sum, err := demo.Generate(ctx, s, o)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	cp, _, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("demo: %d employers, %d persons, %d contribution months, %d retirees: %d events in %s\n",
		sum.Employers, sum.Persons, sum.Contributions, sum.Retirees, sum.Events, time.Since(start).Round(time.Millisecond))
	fmt.Printf("journal size=%d root=%x\n", cp.Size, cp.Root)
	return nil
}
