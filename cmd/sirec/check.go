package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/record"
	"sirec/internal/workitem"
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

// runCheckData runs the integrity and compliance checks, prints every finding and files them as work items
// (one item per finding, never a second one for a finding already open); it exits 1 when there are findings.
// Progress goes to stderr. --dry-run only prints.
func runCheckData(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check data", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	only := fs.String("only", "", "comma-separated names of the checks to run (default: all): "+strings.Join(check.Names(), ", "))
	list := fs.Bool("list", false, "list the checks and what each looks for")
	dry := fs.Bool("dry-run", false, "only print the findings: record no run and file no work items")
	quiet := fs.Bool("quiet", false, "print no progress")
	actor := fs.String("actor", defaultActor(), "who runs the checks, as the run records it")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if *list {
		for _, ch := range check.Checks {
			fmt.Printf("%-31s %-6s %s\n", ch.Name, ch.Severity, ch.Description)
		}
		return nil
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	if _, err := check.Select(names); err != nil {
		return err
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	progress := checkProgress(*quiet)
	print := func(f check.Finding) {
		fmt.Printf("%s\t%s\tperson=%s\tseq=%d\t%s\n", f.Check, f.Severity, f.Person, f.Seq, f.Detail)
	}
	if *dry {
		st, err := check.New(s).Stream(ctx, names, progress, func(f check.Finding) error {
			print(f)
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Printf("%d findings (%d rows read; dry run: no work items filed)\n", st.Findings, st.Rows)
		if st.Findings > 0 {
			return &exitError{code: 1}
		}
		return nil
	}
	users := auth.New(s.Driver(), auth.DefaultConfig())
	r := &check.Runner{Store: s, Items: workitem.New(s, users), Each: print}
	run, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: *actor}, names, progress)
	if err != nil {
		if run.Number != "" {
			return fmt.Errorf("run %s: %w", run.Number, err)
		}
		return err
	}
	fmt.Printf("%d findings (%d rows read)\n", run.Findings, run.Rows)
	fmt.Printf("run %s · work items 工作事项: %d new 新增, %d already open 已在处理, %d no longer found 不再出现, %d dismissed before as not a fault 此前已核销\n",
		run.Number, run.New, run.Seen, run.Gone, run.Suppressed)
	if run.Findings > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// checkProgress prints which check runs and how many rows it has read, on one line of stderr.
func checkProgress(quiet bool) check.Progress {
	if quiet {
		return nil
	}
	var last time.Time
	return func(st check.Status) {
		switch {
		case st.Check == "":
			fmt.Fprintf(os.Stderr, "\rchecks done: %d/%d, %d findings%-30s\n", st.Done, st.Total, st.Findings, "")
		case st.Rows == 0:
			fmt.Fprintf(os.Stderr, "\rcheck %d/%d: %-31s%-30s", st.Done+1, st.Total, st.Check, "")
			last = time.Now()
		case time.Since(last) >= 200*time.Millisecond:
			last = time.Now()
			fmt.Fprintf(os.Stderr, "\rcheck %d/%d: %-31s %d rows, %d findings", st.Done+1, st.Total, st.Check, st.Rows, st.Findings)
		}
	}
}
