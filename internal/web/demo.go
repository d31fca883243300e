package web

import (
	"context"
	"fmt"
	"io"
	"time"

	"sirec/internal/auth"
	"sirec/internal/demo"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Demo portal account names.
const (
	DemoPersonAccount   = "demo-person"
	DemoEmployerAccount = "demo-employer"
)

// CreateDemoAccounts makes the demo portal accounts — the first demo person of seed, and the employer of their
// enrolment (of the first demo person who has one) — with password, and prints them to out. Existing accounts
// are left as they are.
func CreateDemoAccounts(ctx context.Context, st *store.Store, cfg auth.Config, seed uint64, password string, out io.Writer) error {
	accounts := NewAccounts(st.Driver(), cfg)
	person, err := st.FindPerson(ctx, demo.IDNumber(seed, 0))
	if record.ErrorCode(err) == record.ENotFound {
		fmt.Fprintln(out, "demo portal accounts: not made, the database does not hold the demo dataset of this seed")
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo person: %w", err)
	}
	var employer string
	for i := 0; i < 50 && employer == ""; i++ {
		key, err := st.FindPerson(ctx, demo.IDNumber(seed, i))
		if record.ErrorCode(err) == record.ENotFound {
			break
		}
		if err != nil {
			return err
		}
		v, err := st.PersonRecord(ctx, key)
		if err != nil {
			return err
		}
		for _, e := range v.Enrolments {
			if e.Employer != "" {
				employer = e.Employer
				break
			}
		}
	}
	fmt.Fprintln(out, "demo portal accounts (user name / password / who) at /portal/:")
	for _, n := range []NewPortalAccount{
		{Username: DemoPersonAccount, Kind: KindPerson, Subject: person, Password: password},
		{Username: DemoEmployerAccount, Kind: KindEmployer, Subject: employer, Password: password},
	} {
		if n.Subject == "" {
			fmt.Fprintf(out, "  %-17s (no demo employer with an employee found)\n", n.Username)
			continue
		}
		if _, err := accounts.Get(ctx, n.Username); err == nil {
			fmt.Fprintf(out, "  %-17s (exists)\n", n.Username)
			continue
		}
		if _, err := accounts.Create(ctx, n, "demo", time.Now()); err != nil {
			return fmt.Errorf("demo portal account %s: %w", n.Username, err)
		}
		who := fmt.Sprintf("参保人员 insured person: demo person 0 (sirec demo-id --seed %d 0)", seed)
		if n.Kind == KindEmployer {
			who = "用人单位 employer " + n.Subject
		}
		fmt.Fprintf(out, "  %-17s %-21s %s\n", n.Username, password, who)
	}
	return nil
}
