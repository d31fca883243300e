package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"sirec/internal/auth"
	"sirec/internal/institution"
	"sirec/internal/workitem"
)

const institutionUsage = `usage: sirec institution COMMAND [flags]

  add --kind KIND --code USCC --name NAME --agreement NO --until YYYY-MM-DD
                  register a service institution under agreement and open its machine account
                  (kinds: medical, pharmacy, rehabilitation, assistive_device, bank)
  list            list the institutions
  token CODE [--expires 90d|DATE] [--name NAME]
                  create an API token for an institution's machine account, scoped to its kind of
                  submission; it is shown once

Every command takes --db and --keys, and --actor (who is acting, for the authentication log).`

// runInstitution manages service institutions under agreement and their machine accounts (R5.3).
func runInstitution(ctx context.Context, args []string) error {
	return institutionCommand(ctx, args, os.Stdout, os.Stderr)
}

func institutionCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, institutionUsage)
		return &exitError{code: 2}
	}
	fs := flag.NewFlagSet("institution "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c dbFlags
	c.register(fs)
	actor := fs.String("actor", defaultActor(), "who is acting, as written to the authentication log")
	var kind, code, name, agreement, until, expires *string
	switch args[0] {
	case "add":
		kind = fs.String("kind", "", "medical, pharmacy, rehabilitation, assistive_device or bank")
		code = fs.String("code", "", "the institution's unified social credit code")
		name = fs.String("name", "", "the institution's name")
		agreement = fs.String("agreement", "", "the number of its service agreement (服务协议编号)")
		until = fs.String("until", "", "the agreement's last day, YYYY-MM-DD")
	case "token":
		name = fs.String("name", "", "what the token is for (default: the kind of submission)")
		expires = fs.String("expires", "90d", "validity: a number of days (90d), a duration (12h) or a date (2026-12-31)")
	case "list":
	default:
		fmt.Fprintln(stderr, institutionUsage)
		return &exitError{code: 2}
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	st, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	users := auth.New(st.Driver(), auth.DefaultConfig())
	svc := institution.New(st, users, workitem.New(st, users))
	switch args[0] {
	case "add":
		if len(pos) != 0 {
			return &exitError{code: 2, err: fmt.Errorf("usage: sirec institution add --kind KIND --code USCC --name NAME --agreement NO --until DATE")}
		}
		inst, err := svc.Add(ctx, institution.NewInstitution{Code: *code, Kind: *kind, Name: *name, Agreement: *agreement, AgreementUntil: *until}, *actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "institution %s (%s, %s) registered; its machine account is %s — create its API token with: sirec institution token %s\n",
			inst.Code, inst.Name, inst.Kind, inst.Username, inst.Code)
	case "list":
		list, err := svc.List(ctx)
		if err != nil {
			return err
		}
		rows := [][]string{{"CODE 信用代码", "KIND 类别", "NAME 名称", "ACCOUNT 账号", "AGREEMENT 协议", "UNTIL 到期"}}
		for _, i := range list {
			rows = append(rows, []string{i.Code, i.Kind, i.Name, i.Username, i.Agreement, i.AgreementUntil})
		}
		writeTable(stdout, "", rows)
	case "token":
		if len(pos) != 1 {
			return &exitError{code: 2, err: fmt.Errorf("usage: sirec institution token CODE [--expires 90d|DATE]")}
		}
		now := nowUTC()
		exp, err := parseExpiry(*expires, now)
		if err != nil {
			return err
		}
		secret, tok, err := svc.Token(ctx, pos[0], *name, exp, *actor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s for %s, scope %s, expires %s — it is shown once; give it to the institution over a secure channel\n",
			tok.ID, tok.Username, tok.Scopes[0], tok.ExpiresAt.Format("2006-01-02 15:04"))
		fmt.Fprintln(stdout, secret)
	}
	return nil
}
