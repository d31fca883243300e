// Command sirec keeps the social insurance personal rights records (社会保险个人权益记录) of an agency.
// Each subcommand lives in a file of its own and only main exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	run     func(ctx context.Context, args []string) error
	summary string
}

var commands = map[string]command{
	"init":    {runInit, "create the agency's keys and the database schema"},
	"serve":   {runServe, "run the HTTP service (--demo fills an empty database with demo data)"},
	"demo":    {runDemo, "create a deterministic synthetic dataset through the normal append path"},
	"demo-id": {runDemoID, "print demo person N's citizen ID number: demo-id [--seed S] [N]"},
	"portal":  {runPortal, "open self-service portal accounts: portal add --kind person|employer …"},
	"user":    {runUser, "manage users, posts, API tokens and outside helpers: user add|grant|revoke|disable|enable|passwd|list|posts|token|external|agreement"},
	"verify":  {runVerify, "check the journal, its signed checkpoints and the projections for tampering"},
	"rebuild": {runRebuild, "drop and rebuild the projections from the journal"},
	"check":   {runCheck, "check an identifier (check id VALUE | check uscc VALUE) or the data, filing work items (check data)"},
	"bench":   {runBench, "run the benchmark suite on SQLite and PostgreSQL and write a Markdown table (docs/BENCHMARKS.md)"},
	"calc":    {runCalc, "the agency's calculator: calc pension|account|contribution|retirement (JSON on stdin)"},
	"backup":  {runBackup, "back up to file:///PATH or s3://…: backup --to URL | backup verify URL | backup list | backup keygen"},
	"restore": {runRestore, "restore a backup into an empty database and prove it: restore URL --db DSN"},
	"migrate": {runMigrate, "move everything between engines and prove it: migrate --from DSN --to DSN"},

	// Reconciliation with other departments (docs/FEEDS.md).
	"import":      {runImport, "import another department's feed: import feed --kind KIND FILE (docs/FEEDS.md)"},
	"reconcile":   {runReconcile, "reconcile an imported feed with the record: reconcile FEED [--export FILE] | reconcile --list"},
	"institution": {runInstitution, "service institutions and their machine accounts: institution add|list|token"},

	// Query and use (docs/QUERY.md).
	"statements": {runStatements, "issue the yearly rights statements of a year: statements --year Y [--out DIR]"},
	"querylog":   {runQueryLog, "the query log: querylog verify | seal | export --format csv|xlsx"},

	// Transfers between regions (docs/TRANSFER.md).
	"agency":   {runAgency, "this agency's identity and the trust list of other agencies: agency show|set|trust add|list|remove|log"},
	"transfer": {runTransfer, "transfers between regions: transfer list|show|export|import|deliver|resend|refusals"},
}

// exitError carries an exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sirec: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "sirec:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "sirec:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sirec COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun `sirec COMMAND -h` for a command's flags. The database is chosen by --db or SIREC_DB.")
}
