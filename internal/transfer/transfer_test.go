package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/transfer"
	"sirec/internal/web"
)

// Two agencies, each its own instance on its own engine, each serving the real API on 127.0.0.1: the origin
// (Beijing, Chaoyang 110105) and the destination (Shanghai, Pudong 310115).
const (
	originRegion = "110105"
	destRegion   = "310115"
	employer     = "91350100M000100Y43"
)

var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type agency struct {
	t      *testing.T
	region string
	st     *store.Store
	rv     *review.Service
	tr     *transfer.Service
	users  *auth.Service
	tokens map[auth.Post]string
	addr   string
	srv    *http.Server
	stop   context.CancelFunc // stops the delivery loop
}

// newAgency opens an agency of region on engine with fresh keys and users, serves its API on 127.0.0.1 and runs
// its delivery loop.
func newAgency(t *testing.T, engine, region string) *agency {
	t.Helper()
	ctx := context.Background()
	env := storetest.New(t, engine)
	keys, err := keyring.Create(filepath.Join(t.TempDir(), "keys"), transfer.KeyName(region))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, env.Driver(), keys, store.Config{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	a := &agency{t: t, region: region, st: st, rv: review.New(st), users: auth.New(st.Driver(), cfg), tokens: map[auth.Post]string{}}
	a.tr = a.newService()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	a.serve(ln)
	for _, p := range []auth.Post{auth.PostCollector, auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover, auth.PostSysadmin, auth.PostSupervisor} {
		name, pw := string(p), "Secret-pass-42"
		if p == auth.PostSysadmin {
			_, err = a.users.AddFirstSysadmin(ctx, name, name, pw, "test", time.Now())
		} else {
			_, err = a.users.AddUser(ctx, auth.NewUser{Username: name, DisplayName: name, Password: pw, Posts: []auth.Post{p}}, "test", time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"username": name, "password": pw})
		var out struct{ Token string }
		if r := a.do("POST", "/api/v1/session", "", b, &out); r != 200 {
			t.Fatalf("login %s: %d", name, r)
		}
		a.tokens[p] = out.Token
	}
	a.run()
	return a
}

func (a *agency) newService() *transfer.Service {
	return transfer.New(a.st, a.rv, transfer.Config{Poll: 50 * time.Millisecond, RetryBase: 50 * time.Millisecond, RetryMax: 300 * time.Millisecond,
		Logger: quiet, Client: &http.Client{Timeout: 10 * time.Second}})
}

func (a *agency) serve(ln net.Listener) {
	s := &api.Server{Store: a.st, Auth: a.users, Review: a.rv, Transfer: a.tr, Logger: quiet,
		QueryLog: web.StaffQueryLog(a.st.Driver())}
	a.srv = &http.Server{Handler: s.Handler()}
	go a.srv.Serve(ln)
	a.t.Cleanup(func() { a.srv.Close() })
}

// down stops serving; up serves again on the same address.
func (a *agency) down() { a.srv.Close() }

func (a *agency) up() {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", a.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		a.t.Fatal(err)
	}
	a.serve(ln)
}

// run starts the delivery loop (a fresh service, as after a restart).
func (a *agency) run() {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	svc := a.newService()
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	a.t.Cleanup(func() { cancel(); <-done })
}

func (a *agency) url() string { return "http://" + a.addr }

// do calls the agency's API and decodes a JSON answer into out; it returns the status.
func (a *agency) do(method, path, token string, body []byte, out any) int {
	a.t.Helper()
	status, b := a.raw(method, path, token, body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return status
}

func (a *agency) raw(method, path, token string, body []byte) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url()+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (a *agency) must(method, path string, p auth.Post, body any, want int, out any) []byte {
	a.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	status, answer := a.raw(method, path, a.tokens[p], b)
	if status != want {
		a.t.Fatalf("%s %s as %s at %s: %d %s (want %d)", method, path, p, a.region, status, answer, want)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return answer
}

// approve walks a draft through its four review stages over the API.
func (a *agency) approve(draft string) {
	a.t.Helper()
	for _, p := range []auth.Post{auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover} {
		a.must("POST", "/api/v1/drafts/"+draft+"/decision", p, map[string]string{"decision": "approve"}, 200, nil)
	}
}

func (a *agency) transfer(number string) transfer.Transfer {
	a.t.Helper()
	var t transfer.Transfer
	a.must("GET", "/api/v1/transfers/"+number, auth.PostSupervisor, nil, 200, &t)
	return t
}

// waitFor waits until the transfer reaches status, failing after a while.
func (a *agency) waitFor(number, status string) transfer.Transfer {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		t := a.transfer(number)
		if t.Status == status {
			return t
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s transfer %s is %s (%s), not %s; history %+v deliveries %+v", a.region, number, t.Status, t.Detail, status, t.History, t.Deliveries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// incoming returns the destination's transfer of a package, waiting for it to arrive.
func (a *agency) incoming(pkg string) transfer.Transfer {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct{ Transfers []transfer.Transfer }
		a.must("GET", "/api/v1/transfers?direction=in", auth.PostSupervisor, nil, 200, &list)
		for _, t := range list.Transfers {
			if t.PackageID == pkg {
				return a.transfer(t.Number)
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("package %s did not arrive at %s", pkg, a.region)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *agency) record(facts ...record.Fact) {
	a.t.Helper()
	if _, err := a.st.Record(context.Background(), "test", facts); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agency) person(id string) *store.PersonView {
	a.t.Helper()
	ctx := context.Background()
	p, err := a.st.FindPerson(ctx, id)
	if err != nil {
		a.t.Fatal(err)
	}
	v, err := a.st.PersonRecord(ctx, p)
	if err != nil {
		a.t.Fatal(err)
	}
	return v
}

func (a *agency) verify() {
	a.t.Helper()
	if _, err := store.Verify(context.Background(), a.st.Driver(), a.st.Keys().Verifier, store.DefaultRules(), nil); err != nil {
		a.t.Fatalf("verify at %s: %v", a.region, err)
	}
}

func (a *agency) size() uint64 {
	cp, _, err := a.st.LatestCheckpoint(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return cp.Size
}

// introduce puts each agency on the other's trust list, with names and addresses, over the API.
func introduce(t *testing.T, a, b *agency) {
	for _, x := range []*agency{a, b} {
		x.must("PUT", "/api/v1/agency", auth.PostSysadmin, map[string]string{"name": "社会保险经办机构 " + x.region, "url": x.url()}, 200, nil)
	}
	for _, pair := range [][2]*agency{{a, b}, {b, a}} {
		var id transfer.Identity
		pair[1].must("GET", "/api/v1/agency", "", nil, 200, &id)
		pair[0].must("PUT", "/api/v1/agency/trust/"+id.Region, auth.PostSysadmin,
			map[string]string{"name": id.Name, "verifier_key": id.Key, "url": id.URL}, 200, nil)
	}
}

func idNumber(n int) string {
	body := fmt.Sprintf("11010519800307%03d", n)
	return body + string(record.IDCheckChar(body))
}

// beijingFloor is a rule set of the origin's province: a higher base floor from 2020, so that the origin's
// bases differ from the national default's and the destination can only reproduce them with the origin's rules.
const beijingFloor = `version = "beijing-test.1"
region = "110000"
effective_from = "2020-01"
title = "test floor"

[contribution_base]
floor = "7162"
ceiling = "35811"
`

// history records a working life at the origin: registration, an enrolment, deemed years before 1998, pension
// contributions 2016–2024 on 6,000.00 a month (clamped up by the origin's floor from 2020), medical for 2024,
// one month in arrears.
func history(a *agency, id string, from int) {
	ref := record.PersonRef{IDNumber: id}
	facts := []record.Fact{
		&record.PersonRegistered{PersonRef: ref, Name: "李四", Region: a.region, RegisteredOn: "2015-12-01"},
		&record.EnrolmentStarted{PersonRef: ref, Employer: employer, From: "2016-01-01", Type: record.Pension},
		&record.DeemedRecorded{PersonRef: ref, Basis: "国有企业连续工龄", From: 199501, To: 199712},
	}
	for y := from; y <= 2024; y++ {
		for m := 1; m <= 12; m++ {
			status := record.StatusPaid
			if y == 2024 && m == 12 {
				status = record.StatusArrears
			}
			facts = append(facts, &record.ContributionPosted{PersonRef: ref, Employer: employer, Period: record.MakePeriod(y, m), Status: status, Type: record.Pension, Wage: 600000})
			if y == 2024 && m <= 6 {
				facts = append(facts, &record.ContributionPosted{PersonRef: ref, Employer: employer, Period: record.MakePeriod(y, m), Status: record.StatusPaid, Type: record.Medical, Wage: 600000})
			}
		}
	}
	a.record(facts...)
}

func requestTransfer(a *agency, id, to string) transfer.Transfer {
	var t transfer.Transfer
	a.must("POST", "/api/v1/transfers", auth.PostCollector, map[string]string{"id_number": id, "destination": to, "reason": "调入新单位"}, 201, &t)
	if t.Status != transfer.StatusRequested || t.Draft == "" {
		a.t.Fatalf("request: %+v", t)
	}
	return t
}

func yearOf(v *store.PersonView, y int) (in, out record.Fen) {
	for _, ay := range v.Derived.AccountYears {
		if ay.Year == y {
			return ay.TransfersIn, ay.TransfersOut
		}
	}
	return 0, 0
}

func monthsOf(v *store.PersonView) string {
	b, _ := json.Marshal(v.Derived.ContributionMonths)
	return string(b)
}

// The whole procedure between two real instances, one on each engine: a full transfer with the sums checked at
// both ends; the package altered in transit; a duplicate delivery; the destination down during delivery, then
// up; a refusal by the destination's reviewers.
func TestTransferBetweenTwoAgencies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		other := map[string]string{"sqlite": "postgres", "postgres": "sqlite"}[env.Engine]
		origin := newAgency(t, env.Engine, originRegion)
		dest := newAgency(t, other, destRegion)
		introduce(t, origin, dest)
		ctx := context.Background()

		origin.record(&record.EmployerRegistered{CreditCode: employer, IndustryClass: 2, Name: "北京某公司", Region: originRegion, RegisteredOn: "2010-01-01"},
			&record.RuleSetAdopted{Body: beijingFloor})
		a, b, c := idNumber(11), idNumber(12), idNumber(13)
		history(origin, a, 2016)
		history(origin, b, 2023)
		// C registers at the origin under a number another person held until public security corrected theirs:
		// C's key there is derived, not the number's keyed hash.
		origin.record(&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: c}, Name: "王前", Region: originRegion, RegisteredOn: "2010-01-01"})
		origin.record(&record.PersonChanged{PersonRef: record.PersonRef{IDNumber: c}, NewIDNumber: idNumber(15), Reason: "公安机关更正身份号码"})
		history(origin, c, 2024)
		if keyC, err := origin.st.FindPerson(ctx, c); err != nil || keyC == origin.st.Keys().IndexID(c) {
			t.Fatalf("C at the origin: %q, %v", keyC, err)
		}

		// A request is refused with the field and rule when the destination is unknown or the person is not
		// registered.
		var p api.Problem
		origin.must("POST", "/api/v1/transfers", auth.PostCollector, map[string]string{"id_number": a, "destination": "440300", "reason": "x"}, 422, &p)
		if p.Field != "destination" || p.Rule != "destination_trusted" {
			t.Fatalf("untrusted destination: %+v", p)
		}
		origin.must("POST", "/api/v1/drafts", auth.PostCollector, map[string]any{"kind": "transfer_out", "facts": []any{}}, 422, &p)
		if p.Rule != "kind_by_procedure" && (len(p.Errors) == 0 || p.Errors[0].Rule != "kind_by_procedure") {
			t.Fatalf("a transfer_out draft through ordinary intake: %+v", p)
		}

		// 1. A full transfer of A.
		before := origin.person(a)
		out := requestTransfer(origin, a, destRegion)
		origin.approve(out.Draft)
		out = origin.waitFor(out.Number, transfer.StatusSent)
		in := dest.incoming(out.PackageID)
		if in.Status != transfer.StatusReceived || in.Draft == "" || len(in.Overlap) != 0 {
			t.Fatalf("arrived: %+v", in)
		}
		// The origin's record is closed, readable and verifiable.
		after := origin.person(a)
		if after.Status != record.PersonTransferredOut || len(after.Contributions) != len(before.Contributions) {
			t.Fatalf("origin after transfer: status %s, %d contributions (was %d)", after.Status, len(after.Contributions), len(before.Contributions))
		}
		period, _ := record.ParsePeriod("period", out.Period)
		_, moved := yearOf(after, period.Year())
		if moved != out.Account || moved <= 0 {
			t.Fatalf("origin moved %s out of the account, the transfer says %s", moved, out.Account)
		}
		if monthsOf(after) != monthsOf(before) {
			t.Fatalf("origin's years changed: %s → %s", monthsOf(before), monthsOf(after))
		}
		// New contributions for A are refused, naming the rule.
		_, err := origin.st.Record(ctx, "test", []record.Fact{&record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: a}, Period: 202501, Status: record.StatusPaid, Type: record.Pension, Wage: 600000}})
		var es record.Errors
		if !asErrors(err, &es) || es[0].Field != "facts[0].id_number" || es[0].Rule != "person_transferred_out" || !strings.Contains(es[0].Message, destRegion) {
			t.Fatalf("contribution after transfer out: %v", err)
		}

		// 2. The same package delivered again is accepted once.
		pkg := origin.must("GET", "/api/v1/transfers/"+out.Number+"/package", auth.PostCollector, nil, 200, nil)
		var dup struct {
			Number    string
			Status    string
			Duplicate bool
		}
		dest.must("POST", transfer.InboxPath, "", pkg, 200, &dup)
		if !dup.Duplicate || dup.Number != in.Number {
			t.Fatalf("second delivery: %+v (first %s)", dup, in.Number)
		}

		// 3. Any altered byte is refused with a reason; nothing is kept of it.
		var list struct{ Total int }
		dest.must("GET", "/api/v1/transfers?direction=in", auth.PostSupervisor, nil, 200, &list)
		for i := 7; i < len(pkg); i += len(pkg)/40 + 1 {
			bad := slices.Clone(pkg)
			bad[i] ^= 0x01
			status, answer := dest.raw("POST", transfer.InboxPath, "", bad)
			if status != 422 || !strings.Contains(string(answer), "transfer_refused") {
				t.Fatalf("byte %d altered: %d %s", i, status, answer)
			}
		}
		var after2 struct{ Total int }
		dest.must("GET", "/api/v1/transfers?direction=in", auth.PostSupervisor, nil, 200, &after2)
		if after2.Total != list.Total {
			t.Fatalf("altered packages left transfers behind: %d → %d", list.Total, after2.Total)
		}
		var refusals struct {
			Refusals []transfer.Refusal
			Total    int
		}
		dest.must("GET", "/api/v1/transfers/refusals", auth.PostSupervisor, nil, 200, &refusals)
		if refusals.Total < 40 || refusals.Refusals[0].Reason == "" || refusals.Refusals[0].SHA256 == "" {
			t.Fatalf("refusals: %d %+v", refusals.Total, refusals.Refusals[:1])
		}
		// Altered and signed again with the origin's own key (as a faulty origin would), each check still holds.
		tamper := func(name, want string, change func(p *transfer.Package)) {
			var p transfer.Package
			if err := json.Unmarshal([]byte(noteText(pkg)), &p); err != nil {
				t.Fatal(err)
			}
			p.ID = originRegion + "-T9" + fmt.Sprint(len(name)) // a new id, so that it is not a duplicate
			change(&p)
			signed, err := p.Sign(origin.st.Keys().Signer)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = dest.tr.Receive(ctx, signed, "test", "test")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: %v, want %q", name, err, want)
			}
		}
		tamper("account", "record.amounts differs", func(p *transfer.Package) { p.Record.Amounts.Account++ })
		tamper("months", "record.months differs", func(p *transfer.Package) { p.Record.Months[0].Paid++ })
		tamper("base", "record.contributions differs", func(p *transfer.Package) { p.Record.Contributions[3].Base += 100 })
		tamper("event body", "is not proven", func(p *transfer.Package) {
			p.Events[5].Body = strings.Replace(p.Events[5].Body, `"wage":600000`, `"wage":900000`, 1)
		})
		tamper("dropped event", "differs", func(p *transfer.Package) { p.Events = append(p.Events[:6], p.Events[7:]...) })
		tamper("addressee", "not to this agency", func(p *transfer.Package) { p.Destination = "440300" })
		tamper("rule set", "not proven", func(p *transfer.Package) {
			for i := range p.Events {
				if p.Events[i].Seq == p.RuleEvents[0] {
					p.Events[i].Body = strings.Replace(p.Events[i].Body, "7162", "7000", 1)
				}
			}
		})

		// The destination's reviewers approve: recorded as transfer-in events, acknowledged back to the origin.
		dest.approve(in.Draft)
		in = dest.waitFor(in.Number, transfer.StatusAcknowledged)
		out = origin.waitFor(out.Number, transfer.StatusAcknowledged)
		got := dest.person(a)
		if got.Status != "active" || got.Region != destRegion || got.Name != "李四" {
			t.Fatalf("destination registration: %+v", got)
		}
		// The sums at both ends: the balance and the years at the destination are the origin's at transfer time.
		if monthsOf(got) != monthsOf(after) {
			t.Fatalf("years differ: origin %s, destination %s", monthsOf(after), monthsOf(got))
		}
		if got.Derived.ContributionIndex != after.Derived.ContributionIndex || got.Derived.ContributionIndex == "" {
			t.Fatalf("index: origin %s, destination %s", after.Derived.ContributionIndex, got.Derived.ContributionIndex)
		}
		arrived, _ := yearOf(got, period.AddMonths(1).Year())
		if arrived != moved {
			t.Fatalf("the destination received %s into the account, the origin moved %s", arrived, moved)
		}
		if len(got.RecordTransfers) != 1 || got.RecordTransfers[0].Direction != "in" || got.RecordTransfers[0].Package != out.PackageID ||
			got.RecordTransfers[0].PooledFund != out.PooledFund || out.PooledFund <= 0 {
			t.Fatalf("record transfers: %+v (pooled %s)", got.RecordTransfers, out.PooledFund)
		}
		// Delivered again after acceptance: still once, nothing recorded.
		size := dest.size()
		dest.must("POST", transfer.InboxPath, "", pkg, 200, &dup)
		if !dup.Duplicate || dup.Status != transfer.StatusAcknowledged || dest.size() != size {
			t.Fatalf("delivery after acceptance: %+v, journal %d → %d", dup, size, dest.size())
		}

		// 4. B, with a month already held at the destination, while the destination is down; the origin's
		// delivery loop also restarts meanwhile. The destination registered B under a number public security
		// has since corrected to B's: B's key there is not the keyed hash of B's number.
		b0 := idNumber(14)
		dest.record(&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: b0}, Name: "李四", Region: destRegion, RegisteredOn: "2024-01-01"},
			&record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: b0}, Period: 202402, Status: record.StatusPaid, Type: record.Pension, Wage: 800000})
		dest.record(&record.PersonChanged{PersonRef: record.PersonRef{IDNumber: b0}, NewIDNumber: b, Reason: "公安机关更正身份号码"})
		keyB, err := dest.st.FindPerson(ctx, b)
		if err != nil || keyB == dest.st.Keys().IndexID(b) {
			t.Fatalf("B at the destination: %q, %v", keyB, err)
		}
		beforeB := origin.person(b)
		dest.down()
		outB := requestTransfer(origin, b, destRegion)
		origin.approve(outB.Draft)
		deadline := time.Now().Add(30 * time.Second)
		for {
			tb := origin.transfer(outB.Number)
			if tb.Status != transfer.StatusApproved {
				t.Fatalf("delivery to a stopped agency: %+v", tb)
			}
			if len(tb.Deliveries) == 1 && tb.Deliveries[0].Attempts >= 2 && tb.Deliveries[0].LastError != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no retries: %+v", tb.Deliveries)
			}
			time.Sleep(50 * time.Millisecond)
		}
		origin.stop() // a crash of the origin's delivery loop …
		dest.up()
		origin.run() // … and its restart: the outbox is in the database
		outB = origin.waitFor(outB.Number, transfer.StatusSent)
		inB := dest.incoming(outB.PackageID)
		if !slices.Equal(inB.Overlap, []string{"pension 202402"}) {
			t.Fatalf("overlap: %v", inB.Overlap)
		}
		dest.approve(inB.Draft)
		origin.waitFor(outB.Number, transfer.StatusAcknowledged)
		if inB.Person != keyB || dest.transfer(inB.Number).Person != keyB {
			t.Fatalf("B's transfer names person %q on arrival, %q when accepted; B is %s", inB.Person, dest.transfer(inB.Number).Person, keyB)
		}
		gotB := dest.person(b)
		// The month paid in both regions counts once: the years are the origin's.
		if monthsOf(gotB) != monthsOf(beforeB) {
			t.Fatalf("B's years: origin %s, destination %s", monthsOf(beforeB), monthsOf(gotB))
		}

		// 5. C is refused by the destination's reviewers: refused at both ends, with the reason.
		outC := requestTransfer(origin, c, destRegion)
		origin.approve(outC.Draft)
		outC = origin.waitFor(outC.Number, transfer.StatusSent)
		inC := dest.incoming(outC.PackageID)
		dest.must("POST", "/api/v1/drafts/"+inC.Draft+"/decision", auth.PostInitialReviewer, map[string]string{"decision": "reject", "reason": "本人未在本地就业"}, 200, nil)
		inC = dest.transfer(inC.Number)
		if inC.Status != transfer.StatusRefused {
			t.Fatalf("destination after rejection: %+v", inC)
		}
		outC = origin.waitFor(outC.Number, transfer.StatusRefused)
		if !strings.Contains(outC.Detail, "本人未在本地就业") {
			t.Fatalf("origin's reason: %q", outC.Detail)
		}
		if _, err := dest.st.FindPerson(ctx, c); err == nil {
			t.Fatal("a refused transfer registered the person")
		}

		// Both journals and every projection, transfer tables included, verify.
		origin.verify()
		dest.verify()
	})
}

func noteText(signed []byte) string {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	return string(signed[:i])
}

func asErrors(err error, es *record.Errors) bool {
	e, ok := err.(record.Errors)
	if ok {
		*es = e
	}
	return ok && len(e) > 0
}
