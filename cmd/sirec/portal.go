package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/web"
)

// runPortal manages self-service portal accounts (自助查询账户) of insured persons and employers:
//
//	sirec portal add --kind person --id-number ID --username U [--password-file F]
//	sirec portal add --kind employer --credit-code CODE --username U [--password-file F]
//
// An insured person's account is opened at the counter after checking their identity document; the password
// comes from --password-file or standard input, never from a flag.
func runPortal(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return &exitError{code: 2, err: fmt.Errorf("usage: sirec portal add --kind person|employer (--id-number ID | --credit-code CODE) --username NAME")}
	}
	fs := flag.NewFlagSet("portal add", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	kind := fs.String("kind", web.KindPerson, "person (参保人员) or employer (用人单位)")
	id := fs.String("id-number", "", "the insured person's citizen ID number (kind person)")
	code := fs.String("credit-code", "", "the employer's unified social credit code (kind employer)")
	username := fs.String("username", "", "the account's user name")
	pwFile := fs.String("password-file", "", "file holding the initial password (default: standard input)")
	actor := fs.String("actor", "cli:"+os.Getenv("USER"), "who opens the account, for the record")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2}
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	subject := *code
	if *kind == web.KindPerson {
		if err := record.ValidateCitizenID("id-number", *id, time.Now()); err != nil {
			return err
		}
		if subject, err = s.FindPerson(ctx, *id); err != nil {
			return err
		}
	}
	pw, err := readPassword(ctx, *pwFile)
	if err != nil {
		return err
	}
	acc, err := web.NewAccounts(s.Driver(), auth.DefaultConfig()).Create(ctx, web.NewPortalAccount{Username: *username, Kind: *kind, Subject: subject, Password: pw}, *actor, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("portal account %s opened for %s %s\n", acc.Username, acc.Kind, maskedSubject(*kind, *id, subject))
	return nil
}

func maskedSubject(kind, id, subject string) string {
	if kind == web.KindPerson {
		return record.MaskID(id)
	}
	return subject
}
