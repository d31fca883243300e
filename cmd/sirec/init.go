package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"sirec/internal/auth"
	"sirec/internal/keyring"
)

// runInit creates the agency's keys, the database schema and the first system administrator. It refuses to
// overwrite existing keys. The administrator's password comes from --password-file or standard input.
func runInit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	admin := fs.String("admin", "admin", "user name of the first system administrator (系统管理员)")
	adminName := fs.String("admin-name", "系统管理员", "display name of the first system administrator")
	pwFile := fs.String("password-file", "", "file holding the administrator's password (default: read from standard input)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if keyring.Exists(c.Keys) {
		return fmt.Errorf("keys already exist in %s; refusing to overwrite them (they sign the journal and unlock its ID numbers)", c.Keys)
	}
	if err := auth.ValidateUsername(*admin); err != nil {
		return err
	}
	pw, err := readPassword(ctx, *pwFile)
	if err != nil {
		return err
	}
	if err := auth.ValidatePassword(*admin, pw); err != nil {
		return err
	}
	s, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := auth.New(s.Driver(), auth.DefaultConfig()).AddFirstSysadmin(ctx, *admin, *adminName, pw, "cli:init", time.Now()); err != nil {
		return err
	}
	fmt.Printf("initialised region %s: database %s, keys in %s\n", s.Region(), c.DB, c.Keys)
	fmt.Printf("first system administrator: %s (grant posts to staff with `sirec user`)\n", *admin)
	fmt.Printf("checkpoint verifier key (give it to auditors): %s\n", s.Keys().VKey)
	return nil
}
