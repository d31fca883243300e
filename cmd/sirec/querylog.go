package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"sirec/internal/export"
	"sirec/internal/keyring"
	"sirec/internal/querylog"
	"sirec/internal/store"
)

// runQueryLog checks, seals and exports the query log (查询日志, Q7):
//
//	sirec querylog verify            the hash chain and the signed seals; last line "ok entries=N head=<hex> sealed=M" or FAIL
//	sirec querylog seal              sign the chain's head now (serve does it every minute)
//	sirec querylog export --format csv|xlsx --out FILE [--person K] [--actor U] [--actor-kind K] [--application A] [--from D] [--to D]
func runQueryLog(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sirec querylog verify | seal | export --format csv|xlsx --out FILE [filters]")
		return &exitError{code: 2}
	}
	fs := flag.NewFlagSet("querylog "+args[0], flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	format := fs.String("format", "csv", "export format: csv or xlsx")
	out := fs.String("out", "", "export file (default: standard output)")
	var f querylog.Filter
	fs.StringVar(&f.Person, "person", "", "export: only reads of this person key")
	fs.StringVar(&f.Actor, "actor", "", "export: only reads by this actor")
	fs.StringVar(&f.ActorKind, "actor-kind", "", "export: only reads by staff, employer, proxy or body")
	fs.StringVar(&f.Application, "application", "", "export: only reads under this authorisation or application")
	from := fs.String("from", "", "export: from this date (YYYY-MM-DD)")
	to := fs.String("to", "", "export: to this date, inclusive (YYYY-MM-DD)")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	switch args[0] {
	case "verify":
		v, err := keyring.LoadVerifier(c.Keys)
		if err != nil {
			return fmt.Errorf("verifier key in %s: %w", c.Keys, err)
		}
		d, err := openDriver(ctx, c.DB)
		if err != nil {
			return err
		}
		defer d.Close()
		if _, err := store.Migrate(ctx, d, nowUTC()); err != nil {
			return err
		}
		rep, err := querylog.Verify(ctx, d, v)
		if err != nil {
			fmt.Printf("FAIL %v\n", err)
			return &exitError{code: 1}
		}
		if rep.Legacy > 0 {
			fmt.Printf("%d entries from before the chain are covered by the first chained entry\n", rep.Legacy)
		}
		if rep.Unsealed > 0 {
			fmt.Printf("%d entries after the latest seal are protected by the chain alone until the next seal\n", rep.Unsealed)
		}
		fmt.Printf("ok entries=%d head=%s sealed=%d seals=%d\n", rep.Entries, rep.Head, rep.SealedThrough, rep.Seals)
		return nil
	case "seal":
		s, err := c.open(ctx, false)
		if err != nil {
			return err
		}
		defer s.Close()
		seal, wrote, err := querylog.SealNow(ctx, s.Driver(), s.Keys(), time.Now())
		if err != nil {
			return err
		}
		if !wrote {
			fmt.Println("already sealed: no entries since the latest seal")
		}
		fmt.Printf("sealed entries=%d head=%s\n", seal.Size, seal.Head)
		return nil
	case "export":
		for _, d := range []struct {
			v    string
			into *time.Time
			add  int
		}{{*from, &f.From, 0}, {*to, &f.To, 1}} {
			if d.v == "" {
				continue
			}
			t, err := time.ParseInLocation("2006-01-02", d.v, time.Local)
			if err != nil {
				return fmt.Errorf("%q is not a date written YYYY-MM-DD", d.v)
			}
			*d.into = t.AddDate(0, 0, d.add)
		}
		dr, err := openDriver(ctx, c.DB)
		if err != nil {
			return err
		}
		defer dr.Close()
		if _, err := store.Migrate(ctx, dr, nowUTC()); err != nil {
			return err
		}
		es, err := querylog.Export(ctx, dr, f)
		if err != nil {
			return err
		}
		w := os.Stdout
		if *out != "" {
			if w, err = os.OpenFile(*out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return err
			}
			defer w.Close()
		}
		if err := export.Write(w, *format, querylog.Table(es)); err != nil {
			return err
		}
		if *out != "" {
			fmt.Fprintf(os.Stderr, "exported %d entries to %s\n", len(es), *out)
		}
		return nil
	}
	return fmt.Errorf("unknown querylog command %q: use verify, seal or export", args[0])
}
