package main

import (
	"context"
	"flag"
	"fmt"

	"sirec/internal/keyring"
)

// runInit creates the agency's keys and the database schema. It refuses to overwrite existing keys.
func runInit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if keyring.Exists(c.Keys) {
		return fmt.Errorf("keys already exist in %s; refusing to overwrite them (they sign the journal and unlock its ID numbers)", c.Keys)
	}
	s, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("initialised region %s: database %s, keys in %s\n", s.Region(), c.DB, c.Keys)
	fmt.Printf("checkpoint verifier key (give it to auditors): %s\n", s.Keys().VKey)
	return nil
}
