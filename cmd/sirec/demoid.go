package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"sirec/internal/demo"
)

// runDemoID prints the citizen ID number of a demo person, so that a newcomer can look one up.
func runDemoID(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("demo-id", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "the demo dataset's seed")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	i := 0
	if fs.NArg() > 0 {
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil || n < 0 {
			return &exitError{code: 2, err: fmt.Errorf("person number %q must be a whole number from 0", fs.Arg(0))}
		}
		i = n
	}
	fmt.Println(demo.IDNumber(*seed, i))
	return nil
}
