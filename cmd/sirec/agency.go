package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"sirec/internal/transfer"
)

// runAgency shows and sets this agency's identity and manages the trust list of other agencies (R10):
//
//	sirec agency show
//	sirec agency set --name NAME [--url BASE-URL]
//	sirec agency trust add --region R --name NAME (--key KEY | --key-file F) [--url BASE-URL]
//	sirec agency trust list
//	sirec agency trust remove --region R
//	sirec agency log
//
// The region code and the signing key come from the key folder; `agency show` prints the verifier key to hand
// to the other agencies, who put it on their trust lists. A system administrator's task.
func runAgency(ctx context.Context, args []string) error {
	usage := &exitError{code: 2, err: fmt.Errorf("usage: sirec agency show | set --name N [--url U] | trust add|list|remove … | log")}
	if len(args) == 0 {
		return usage
	}
	sub, rest := args[0], args[1:]
	if sub == "trust" {
		if len(rest) == 0 {
			return usage
		}
		sub, rest = "trust "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("agency "+sub, flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	actor := fs.String("actor", "cli:"+os.Getenv("USER"), "who makes the change, for the log")
	name := fs.String("name", "", "the agency's name, e.g. 上海市浦东新区社会保险事业管理中心")
	url := fs.String("url", "", "the agency's base URL, e.g. https://sirec.pudong.example (empty: packages go as files)")
	key := fs.String("key", "", "the other agency's verifier key (from its `sirec agency show`)")
	keyFile := fs.String("key-file", "", "a file holding the verifier key (its checkpoint.pub)")
	if err := fs.Parse(rest); err != nil {
		return &exitError{code: 2}
	}
	// --region names the other agency here (trust add|update|remove); this agency's own region comes from its
	// keys, which already exist.
	other := ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "region" {
			other = c.Region
		}
	})
	c.Region = envOr("SIREC_REGION", DefaultRegion)
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	svc := transfer.New(s, nil, transfer.Config{})
	switch sub {
	case "show":
		id, err := svc.Identity(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("region        %s\nname          %s\nurl           %s\nverifier key  %s\n", id.Region, orDash(id.Name), orDash(id.URL), id.Key)
		list, err := svc.TrustList(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("trusted agencies: %d\n", len(list))
		return printTrust(list)
	case "set":
		id, err := svc.SetIdentity(ctx, *actor, *name, *url)
		if err != nil {
			return err
		}
		fmt.Printf("agency %s: %s %s\n", id.Region, id.Name, id.URL)
	case "trust add", "trust update":
		k := *key
		if *keyFile != "" {
			b, err := os.ReadFile(*keyFile)
			if err != nil {
				return err
			}
			k = strings.TrimSpace(string(b))
		}
		e, err := svc.Trust(ctx, *actor, transfer.TrustSpec{Region: other, Name: *name, Key: k, URL: *url})
		if err != nil {
			return err
		}
		fmt.Printf("trusted %s %s (%s)\n", e.Region, e.Name, orDash(e.URL))
	case "trust list":
		list, err := svc.TrustList(ctx)
		if err != nil {
			return err
		}
		return printTrust(list)
	case "trust remove":
		if err := svc.Distrust(ctx, *actor, other); err != nil {
			return err
		}
		fmt.Printf("region %s is no longer trusted\n", other)
	case "log":
		entries, err := svc.TrustLog(ctx, 0, 1000)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "WHEN\tWHO\tACTION\tREGION\tDETAIL")
		for _, e := range entries {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04"), e.Actor, e.Action, e.Region, e.Detail)
		}
		return w.Flush()
	default:
		return usage
	}
	return nil
}

func printTrust(list []transfer.TrustEntry) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tNAME\tURL\tVERIFIER KEY")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Region, e.Name, orDash(e.URL), e.Key)
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
