package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/demo"
	"sirec/internal/queryuse"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/transfer"
	"sirec/internal/web"
)

// runServe runs the HTTP service. A new database and its keys are created when needed; with --demo an empty
// database is first filled with the demo dataset.
func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	addr := fs.String("addr", envOr("SIREC_ADDR", "127.0.0.1:8080"), "listen address HOST:PORT; keep it inside the private network (env SIREC_ADDR)")
	withDemo := fs.Bool("demo", false, "fill an empty database with demo data first")
	persons := fs.Int("demo-persons", 200, "persons in the demo dataset")
	seed := fs.Uint64("demo-seed", 1, "seed of the demo dataset")
	var cf custodyFlags
	cf.register(fs)
	var ck checkFlags
	ck.register(fs)
	var ff fontFlags
	ff.register(fs)
	var vf verifyFlags
	vf.register(fs)
	publicURL := fs.String("public-url", os.Getenv("SIREC_PUBLIC_URL"), "the agency's public address that certificates' QR codes point at, e.g. https://si.example.gov.cn (env SIREC_PUBLIC_URL; default: the address a request came to)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if err := ck.Validate(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := c.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	users := auth.New(s.Driver(), auth.DefaultConfig())
	qu := queryuse.New(s, review.New(s), queryuse.Options{FontCJK: ff.CJK, FontLatin: ff.Latin, PublicURL: *publicURL})
	sched, err := cf.scheduler(s, c.Keys, logger)
	if err != nil {
		return err
	}
	if *withDemo {
		if err := fillDemo(ctx, s, *persons, *seed); err != nil {
			return err
		}
		if err := demoUsers(ctx, users); err != nil {
			return err
		}
		if err := web.CreateDemoAccounts(ctx, s, users.Config(), *seed, DemoPassword, os.Stdout); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	checks := ck.start(ctx, s, users, logger)
	transfers := transfer.New(s, nil, transfer.Config{Logger: logger}) // transfers between regions (docs/TRANSFER.md)
	srv := &http.Server{
		Handler:           web.Mount(web.Config{Context: ctx, VerifyEvery: vf.every, QueryUse: qu, Custody: sched, Checks: checks, Store: s, Auth: users, Review: review.New(s), Logger: logger}, (&api.Server{QueryUse: qu, Custody: sched, Checks: checks, Store: s, Auth: users, Review: review.New(s), Calc: calculator(s), Logger: logger, QueryLog: web.StaffQueryLog(s.Driver()), Transfer: transfers}).Handler()),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if sched != nil {
		go sched.Run(ctx)
	}
	// The transfer outbox: packages and acknowledgements to other agencies, retried until answered.
	go transfers.Run(ctx)
	go qu.SealEvery(ctx, time.Minute, logger) // the query log's head is signed within a minute of each read
	logger.Info("sirec serving", "addr", "http://"+ln.Addr().String(), "db", c.DB, "region", s.Region())
	fmt.Printf("sirec is serving on http://%s — staff console: http://%[1]s/console/ · portal: http://%[1]s/portal/ · API: /api/v1/openapi.json\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// fillDemo records the demo dataset when the journal is empty.
func fillDemo(ctx context.Context, s *store.Store, persons int, seed uint64) error {
	cp, _, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	if cp.Size > 0 {
		fmt.Fprintf(os.Stderr, "sirec: the database already holds %d events; demo data not added\n", cp.Size)
		return nil
	}
	fmt.Fprintf(os.Stderr, "sirec: recording demo data (%d persons, seed %d)…\n", persons, seed)
	sum, err := demo.Generate(ctx, s, demo.Options{Persons: persons, Seed: seed, Progress: progressPrinter()})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sirec: demo data recorded: %d employers, %d persons, %d contribution months, %d retirees, %d events\n",
		sum.Employers, sum.Persons, sum.Contributions, sum.Retirees, sum.Events)
	return nil
}

// progressPrinter prints progress on one terminal line, at most a few times a second.
func progressPrinter() func(stage string, done, total int) {
	var last time.Time
	return func(stage string, done, total int) {
		if done != total && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(os.Stderr, "\r%-28s %d / %d   ", stage, done, total)
	}
}

func nowUTC() time.Time { return time.Now().UTC() }

// DemoPassword is every demo user's password.
const DemoPassword = "sirec-demo-2026"

// demoUsers creates one demo user per post — named after the post, with the password DemoPassword — and
// prints them, so that a newcomer can walk a draft through all four review stages with four different people.
func demoUsers(ctx context.Context, users *auth.Service) error {
	fmt.Println("demo users (user name / password / post):")
	for _, info := range auth.Posts {
		name := string(info.Post)
		pw := DemoPassword
		if _, err := users.GetUser(ctx, name); err == nil {
			fmt.Printf("  %-17s (exists)              %s %s\n", name, info.Chinese, info.English)
			continue
		}
		var err error
		if info.Post == auth.PostSysadmin {
			_, err = users.AddFirstSysadmin(ctx, name, info.Chinese+"（演示）", pw, "demo", time.Now())
			if record.ErrorCode(err) == record.EConflict {
				_, err = users.AddUser(ctx, auth.NewUser{Username: name, DisplayName: info.Chinese + "（演示）", Password: pw, Posts: []auth.Post{info.Post}}, "demo", time.Now())
			}
		} else {
			_, err = users.AddUser(ctx, auth.NewUser{Username: name, DisplayName: info.Chinese + "（演示）", Password: pw, Posts: []auth.Post{info.Post}}, "demo", time.Now())
		}
		if err != nil {
			return fmt.Errorf("demo user %s: %w", name, err)
		}
		fmt.Printf("  %-17s %-21s %s %s\n", name, pw, info.Chinese, info.English)
	}
	return nil
}
