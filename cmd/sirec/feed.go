package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/feed"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

const importUsage = `usage: sirec import feed --kind KIND [--complete] [--format csv|jsonl] [--reconcile] FILE

Imports a file another department reported (see docs/FEEDS.md): every row is checked and every bad one printed
with its line, field and rule — then nothing is kept; a file imported before is refused. Kinds: ` + "%s" + `.`

// runImport imports what other departments report: sirec import feed --kind KIND FILE.
func runImport(ctx context.Context, args []string) error {
	return importCommand(ctx, args, os.Stdout, os.Stderr)
}

func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := fmt.Sprintf(importUsage, feed.KindNames())
	if len(args) == 0 || args[0] != "feed" {
		fmt.Fprintln(stderr, usage)
		return &exitError{code: 2}
	}
	fs := flag.NewFlagSet("import feed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c dbFlags
	c.register(fs)
	kind := fs.String("kind", "", "the kind of feed: "+feed.KindNames())
	format := fs.String("format", "", "csv or jsonl (default: by the file's extension)")
	complete := fs.Bool("complete", false, "the file lists everything of its kind (market regulation, staffing offices), so that what it lacks is reported too")
	reconcile := fs.Bool("reconcile", false, "reconcile the feed with the record at once")
	actor := fs.String("actor", defaultActor(), "who imports, as recorded with the feed")
	quiet := fs.Bool("quiet", false, "print no progress")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *kind == "" {
		fmt.Fprintln(stderr, usage)
		return &exitError{code: 2}
	}
	file, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer file.Close()
	st, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := feedService(st)
	problems := 0
	f, err := svc.Import(ctx, file, feed.ImportOptions{Kind: *kind, Name: filepath.Base(pos[0]), Format: *format, Complete: *complete, Actor: *actor,
		Progress: progressLine(stderr, *quiet),
		OnError: func(e *record.Error) {
			problems++
			fmt.Fprintf(stderr, "%s: %s (rule %s)\n", e.Field, e.Message, e.Rule)
		}})
	if !*quiet {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		if problems > 0 {
			return fmt.Errorf("%s: %d problems; nothing was imported", pos[0], problems)
		}
		return err
	}
	fmt.Fprintf(stdout, "feed %s imported: %d rows of %s from %s (sha256 %s)\n", f.Number, f.Rows, f.Kind, f.Name, f.SHA256)
	if *reconcile {
		return reconcileFeed(ctx, svc, f.ID, *actor, "", *quiet, stdout, stderr)
	}
	return nil
}

// runReconcile reconciles an imported feed with the record: sirec reconcile FEED.
func runReconcile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	actor := fs.String("actor", defaultActor(), "who runs the reconciliation")
	out := fs.String("export", "", "also write the differences to this file (.csv or .xlsx)")
	quiet := fs.Bool("quiet", false, "print no progress")
	list := fs.Bool("list", false, "list the imported feeds instead")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if !*list && len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "usage: sirec reconcile [--export FILE.csv|.xlsx] FEED   (a feed number such as F000012)\n       sirec reconcile --list")
		return &exitError{code: 2}
	}
	st, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := feedService(st)
	if *list {
		return listFeeds(ctx, svc, os.Stdout)
	}
	id, err := feed.ParseNumber("feed", "F", pos[0])
	if err != nil {
		return err
	}
	return reconcileFeed(ctx, svc, id, *actor, *out, *quiet, os.Stdout, os.Stderr)
}

// feedService is the feed service of a store, filing differences as work items.
func feedService(st *store.Store) *feed.Service {
	return feed.New(st, workitem.New(st, auth.New(st.Driver(), auth.DefaultConfig())))
}

func reconcileFeed(ctx context.Context, svc *feed.Service, id int64, actor, out string, quiet bool, stdout, stderr io.Writer) error {
	var last time.Time
	run, err := svc.Reconcile(ctx, id, actor, func(r feed.Run) {
		if quiet || time.Since(last) < 200*time.Millisecond && r.Status == feed.RunRunning {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\rreconcile %s: %d rows compared, %d differences   ", r.Number, r.RowsRead, r.Differences)
	})
	if !quiet {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s of feed %s: %d rows compared, %d differences\n", run.Number, run.Feed, run.RowsRead, run.Differences)
	kinds := make([]string, 0, len(run.Counts))
	for k := range run.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		dk, _ := feed.DifferenceKindOf(k)
		fmt.Fprintf(stdout, "  %-40s %-6s %8d  %s\n", k, dk.Severity, run.Counts[k], dk.Title)
	}
	if w := run.WorkItems; w != nil {
		fmt.Fprintf(stdout, "work items (source %s): %d new, %d found again, %d not filed again (dismissed as not a fault), %d no longer found\n",
			feed.Source(run.Feed), w.New, w.Seen, w.Suppressed, w.Gone)
	}
	if out == "" {
		return nil
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
	if format != "csv" && format != "xlsx" {
		return record.Invalid("export", "export_format", "the export file ends .csv or .xlsx")
	}
	file, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := svc.Export(ctx, file, format, run.ID, feed.DifferenceFilter{}); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "differences written to %s\n", out)
	return nil
}

func listFeeds(ctx context.Context, svc *feed.Service, w io.Writer) error {
	rows := [][]string{{"FEED 数据", "KIND 类型", "ROWS 行数", "FILE 文件", "IMPORTED 导入", "LAST RUN 最近核对"}}
	for offset := 0; ; offset += 1000 {
		list, total, err := svc.Feeds(ctx, feed.FeedFilter{}, offset, 1000)
		if err != nil {
			return err
		}
		for _, f := range list {
			last := "-"
			if r := f.LastRun; r != nil {
				last = fmt.Sprintf("%s %s, %d differences", r.Number, r.Status, r.Differences)
			}
			rows = append(rows, []string{f.Number, f.Kind, fmt.Sprint(f.Rows), f.Name, f.ImportedAt.Local().Format("2006-01-02 15:04") + " " + f.ImportedBy, last})
		}
		if int64(offset+len(list)) >= total {
			break
		}
	}
	writeTable(w, "", rows)
	return nil
}

// progressLine prints a stage's progress on one line of w.
func progressLine(w io.Writer, quiet bool) func(stage string, rows int64) {
	if quiet {
		return nil
	}
	return func(stage string, rows int64) {
		fmt.Fprintf(w, "\r%-6s %d rows   ", stage, rows)
	}
}

// parseInterleaved parses flags that may come before or after the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0}
			}
			return nil, &exitError{code: 2}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
