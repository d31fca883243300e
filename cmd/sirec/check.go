package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sirec/internal/check"
	"sirec/internal/record"
)

// runCheck checks one identifier — `check id VALUE` (GB 11643) or `check uscc VALUE` (GB 32100): it prints
// "valid" and exits 0, or prints the reason and exits 1 — or runs the data checks: `check data`.
func runCheck(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "data" {
		return runCheckData(ctx, args[1:])
	}
	if len(args) != 2 {
		return &exitError{code: 2, err: fmt.Errorf("usage: sirec check id VALUE | sirec check uscc VALUE | sirec check data [--only NAMES]")}
	}
	var err error
	switch args[0] {
	case "id":
		err = record.ValidateCitizenID("id", args[1], time.Now())
	case "uscc":
		err = record.ValidateUSCC("uscc", args[1])
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown identifier kind %q; use id or uscc", args[0])}
	}
	if err != nil {
		fmt.Println("invalid:", err)
		return &exitError{code: 1}
	}
	fmt.Println("valid")
	return nil
}

// runCheckData runs the integrity and compliance checks and prints every finding; it exits 1 when there are any.
func runCheckData(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check data", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	only := fs.String("only", "", "comma-separated names of the checks to run (default: all): "+strings.Join(check.Names(), ", "))
	list := fs.Bool("list", false, "list the checks and what each looks for")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if *list {
		for _, ch := range check.Checks {
			fmt.Printf("%-31s %-6s %s\n", ch.Name, ch.Severity, ch.Description)
		}
		return nil
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	findings, err := check.New(s).Run(ctx, names, func(name string, done, total int) {
		if name != "" {
			fmt.Fprintf(os.Stderr, "check %d/%d: %s\n", done+1, total, name)
		}
	})
	if err != nil {
		return err
	}
	for _, f := range findings {
		fmt.Printf("%s\t%s\tperson=%s\tseq=%d\t%s\n", f.Check, f.Severity, f.Person, f.Seq, f.Detail)
	}
	fmt.Printf("%d findings\n", len(findings))
	if len(findings) > 0 {
		return &exitError{code: 1}
	}
	return nil
}
