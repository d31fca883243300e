package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"sirec/internal/transfer"
)

// runTransfer lists and shows transfers between regions (R10), carries packages and acknowledgements as files,
// and delivers the outbox:
//
//	sirec transfer list [--direction in|out] [--status S]
//	sirec transfer show T000042
//	sirec transfer export T000042 [--out FILE]   the signed package (out) or acknowledgement/refusal (in)
//	sirec transfer import FILE                   a package or acknowledgement carried as a file
//	sirec transfer deliver                       deliver what is due in the outbox once (serve does it always)
//	sirec transfer resend T000042                queue again a delivery that was refused or given up
//	sirec transfer refusals                      packages and acknowledgements refused on arrival
//
// Requesting and approving a transfer is done by staff through the review (API or console), never here.
func runTransfer(ctx context.Context, args []string) error {
	usage := &exitError{code: 2, err: fmt.Errorf("usage: sirec transfer list|show|export|import|deliver|resend|refusals …")}
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	fs := flag.NewFlagSet("transfer "+sub, flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	actor := fs.String("actor", "cli:"+os.Getenv("USER"), "who acts, for the transfer's history")
	direction := fs.String("direction", "", "list: in or out")
	status := fs.String("status", "", "list: only transfers of this status")
	out := fs.String("out", "", "export: the file to write (default: the package id and .sirec-transfer or .sirec-ack)")
	// The transfer number or file may come before the flags or after them.
	rest := args[1:]
	var pos []string
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return &exitError{code: 2}
	}
	pos = append(pos, fs.Args()...)
	arg := func() (string, error) {
		if len(pos) != 1 {
			return "", usage
		}
		return pos[0], nil
	}
	number := func() (int64, error) {
		a, err := arg()
		if err != nil {
			return 0, err
		}
		return transfer.ParseNumber("number", a)
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	svc := transfer.New(s, nil, transfer.Config{})
	switch sub {
	case "list":
		list, total, err := svc.List(ctx, transfer.Filter{Direction: *direction, Status: *status}, 0, 1000)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "NUMBER\tDIR\tPACKAGE\tREGION\tPERSON\tSTATUS\tACCOUNT\tPOOLED FUND\tUPDATED")
		for _, t := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.Direction, t.PackageID, t.OtherRegion, t.IDMasked, t.Status,
				t.Account, t.PooledFund, t.UpdatedAt.Local().Format("2006-01-02 15:04"))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Printf("%d of %d transfers\n", len(list), total)
	case "show":
		id, err := number()
		if err != nil {
			return err
		}
		t, err := svc.Get(ctx, id)
		if err != nil {
			return err
		}
		printTransfer(t)
	case "export":
		id, err := number()
		if err != nil {
			return err
		}
		t, err := svc.Get(ctx, id)
		if err != nil {
			return err
		}
		var body []byte
		name := t.PackageID + ".sirec-transfer"
		if t.Direction == transfer.Out {
			body, _, err = svc.Package(ctx, id, *actor)
		} else {
			body, err = svc.Message(ctx, id)
			name = t.PackageID + ".sirec-ack"
		}
		if err != nil {
			return err
		}
		if *out != "" {
			name = *out
		}
		if err := os.WriteFile(name, body, 0o600); err != nil {
			return err
		}
		fmt.Printf("%s written (%d bytes); it holds personal data: carry it sealed\n", name, len(body))
	case "import":
		file, err := arg()
		if err != nil {
			return err
		}
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(f, transfer.MaxPackage+1))
		f.Close()
		if err != nil {
			return err
		}
		t, dup, err := svc.Import(ctx, body, "file:"+filepath.Base(file), *actor)
		if err != nil {
			return fmt.Errorf("refused: %s", transfer.ErrorDetail(err))
		}
		switch {
		case dup:
			fmt.Printf("package %s was received before as %s (%s); nothing new\n", t.PackageID, t.Number, t.Status)
		case t.Direction == transfer.In:
			fmt.Printf("package %s checked and received as %s: draft %s waits for review\n", t.PackageID, t.Number, t.Draft)
		default:
			fmt.Printf("acknowledgement of %s taken: %s is %s\n", t.PackageID, t.Number, t.Status)
		}
	case "deliver":
		n, err := svc.DeliverDue(ctx)
		if err != nil {
			return err
		}
		waiting, gaveUp, err := svc.Pending(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("delivered %d; %d waiting for a retry; %d refused or given up\n", n, waiting, gaveUp)
	case "resend":
		id, err := number()
		if err != nil {
			return err
		}
		t, err := svc.Resend(ctx, *actor, id)
		if err != nil {
			return err
		}
		fmt.Printf("%s queued again (%s)\n", t.Number, t.Status)
	case "refusals":
		list, total, err := svc.Refusals(ctx, 0, 1000)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "WHEN\tSOURCE\tPACKAGE\tREASON")
		for _, r := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.At.Local().Format("2006-01-02 15:04:05"), r.Source, orDash(r.PackageID), r.Reason)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Printf("%d refusals\n", total)
	default:
		return usage
	}
	return nil
}

func printTransfer(t transfer.Transfer) {
	fmt.Printf("transfer      %s (%s)\npackage       %s\nperson        %s %s\nregion        %s\nstatus        %s\n",
		t.Number, t.Direction, t.PackageID, t.Name, t.IDMasked, t.OtherRegion, t.Status)
	if t.Detail != "" {
		fmt.Printf("detail        %s\n", t.Detail)
	}
	fmt.Printf("reason        %s\ndraft         %s\nmonth         %s\naccount       %s\npooled fund   %s\n", t.Reason, orDash(t.Draft), orDash(t.Period), t.Account, t.PooledFund)
	for _, m := range t.Months {
		fmt.Printf("months        %-12s paid %d, deemed %d, total %d (%s years)\n", m.Type, m.Paid, m.Deemed, m.Total, m.Years)
	}
	if len(t.Overlap) > 0 {
		fmt.Printf("overlap       %v\n", t.Overlap)
	}
	fmt.Println("history:")
	for _, h := range t.History {
		fmt.Printf("  %s  %-12s %-18s %s\n", h.At.Local().Format("2006-01-02 15:04:05"), h.Status, h.Actor, h.Detail)
	}
	for _, d := range t.Deliveries {
		state := "waiting"
		switch {
		case !d.DeliveredAt.IsZero():
			state = "delivered " + d.DeliveredAt.Local().Format("2006-01-02 15:04:05")
		case !d.GaveUpAt.IsZero():
			state = "refused " + d.GaveUpAt.Local().Format("2006-01-02 15:04:05")
		case !d.NextAt.IsZero():
			state = "next attempt " + d.NextAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Printf("delivery      %s to %s: %d attempts, %s %s\n", d.Kind, d.Region, d.Attempts, state, d.LastError)
	}
}
