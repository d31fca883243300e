package querylog_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/querylog"
	"sirec/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func entry(i int) querylog.Entry {
	kinds := querylog.ActorKinds
	return querylog.Entry{At: t0.Add(time.Duration(i) * time.Minute), ActorKind: kinds[i%len(kinds)], Actor: fmt.Sprintf("user%d", i%3),
		Person: fmt.Sprintf("person%02d", i%5), Page: "api/persons", Fields: "registration,contributions", Purpose: "counter",
		Application: map[bool]string{true: "A000001"}[i%4 == 3]}
}

func TestChainSealAndTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		d := st.Driver()
		for i := range 6 {
			if err := querylog.Append(ctx, d, entry(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := querylog.Append(ctx, d, entry(6), entry(7), entry(8)); err != nil {
			t.Fatal(err)
		}
		// Incomplete entries are refused, and nothing of their batch is written.
		bad := entry(9)
		bad.Purpose = ""
		if err := querylog.Append(ctx, d, entry(10), bad); err == nil || !strings.Contains(err.Error(), "purpose") {
			t.Fatalf("incomplete entry: %v", err)
		}
		rep, err := querylog.Verify(ctx, d, st.Keys().Verifier)
		if err != nil || rep.Entries != 9 || rep.Seals != 0 || rep.Unsealed != 9 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		seal, wrote, err := querylog.SealNow(ctx, d, st.Keys(), t0)
		if err != nil || !wrote || seal.Size != 9 || seal.Head != rep.Head {
			t.Fatalf("seal: %+v %v %v", seal, wrote, err)
		}
		if _, wrote, _ := querylog.SealNow(ctx, d, st.Keys(), t0); wrote {
			t.Fatal("a second seal without new rows")
		}
		if err := querylog.Append(ctx, d, entry(11)); err != nil {
			t.Fatal(err)
		}
		rep, err = querylog.Verify(ctx, d, st.Keys().Verifier)
		if err != nil || rep.Entries != 10 || rep.Seals != 1 || rep.SealedThrough != 9 || rep.Unsealed != 1 {
			t.Fatalf("verify after seal: %+v %v", rep, err)
		}

		// Search: by person, by actor kind, by application, by time.
		es, total, err := querylog.List(ctx, d, querylog.Filter{Person: "person01"}, 0, 100)
		if err != nil || total != 3 || es[0].ID < es[1].ID {
			t.Fatalf("by person: %d %+v %v", total, es, err)
		}
		if _, total, _ := querylog.List(ctx, d, querylog.Filter{ActorKind: querylog.ActorProxy}, 0, 100); total != 2 {
			t.Errorf("by actor kind: %d", total)
		}
		if es, total, _ := querylog.List(ctx, d, querylog.Filter{Application: "A000001"}, 0, 100); total != 3 || es[0].Application != "A000001" {
			t.Errorf("by application: %d %+v", total, es)
		}
		if _, total, _ := querylog.List(ctx, d, querylog.Filter{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}, 0, 100); total != 3 {
			t.Errorf("by time: %d", total)
		}
		all, err := querylog.Export(ctx, d, querylog.Filter{})
		if err != nil || len(all) != 10 || all[0].ID > all[9].ID {
			t.Fatalf("export: %d %v", len(all), err)
		}

		// Every change behind the application's back is found, naming the row.
		fresh := func() {
			t.Helper()
			if _, err := querylog.Verify(ctx, d, st.Keys().Verifier); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
		}
		tampered := func(what, want string) {
			t.Helper()
			_, err := querylog.Verify(ctx, d, st.Keys().Verifier)
			if !errors.Is(err, querylog.ErrTampered) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want %q", what, err, want)
			}
		}
		id := func(i int) int64 { return all[i].ID }
		fresh()
		env.Raw(fmt.Sprintf("UPDATE query_log SET purpose = 'business' WHERE id = %d", id(3)))
		tampered("changed purpose", fmt.Sprintf("row %d", id(3)))
		env.Raw(fmt.Sprintf("UPDATE query_log SET purpose = 'counter' WHERE id = %d", id(3)))
		fresh()
		env.Raw(fmt.Sprintf("DELETE FROM query_log WHERE id = %d", id(5)))
		tampered("removed row", fmt.Sprintf("row %d", id(6)))
		e5 := all[5]
		env.Raw(fmt.Sprintf("INSERT INTO query_log (id, at, actor_kind, actor, person, page, fields, purpose, application, hash) VALUES (%d, %d, '%s', '%s', '%s', '%s', '%s', '%s', '%s', '%s')",
			e5.ID, e5.At.UnixMilli(), e5.ActorKind, e5.Actor, e5.Person, e5.Page, e5.Fields, e5.Purpose, e5.Application, e5.Hash))
		fresh()
		env.Raw(fmt.Sprintf("INSERT INTO query_log (id, at, actor_kind, actor, person, page, fields, purpose, application, hash) VALUES (%d, %d, 'staff', 'x', 'p', 'api', '', 'counter', '', '')",
			id(9)+100, t0.UnixMilli()))
		tampered("row without hash", fmt.Sprintf("row %d has no hash", id(9)+100))
		env.Raw(fmt.Sprintf("DELETE FROM query_log WHERE id = %d", id(9)+100))
		fresh()

		// Rewriting the chain consistently from a changed row on passes the chain check but not the signed seal.
		prev, _ := hex.DecodeString(all[1].Hash)
		for i := 2; i < len(all); i++ {
			e := all[i]
			if i == 2 {
				e.Actor = "someone-else"
			}
			h := querylog.Chain(prev, e)
			env.Raw(fmt.Sprintf("UPDATE query_log SET actor = '%s', hash = '%s' WHERE id = %d", e.Actor, hex.EncodeToString(h), e.ID))
			prev = h
		}
		tampered("rewritten chain", "does not match the signed seal")
		// Restore the rows, then remove the tail the seal covers.
		for i := 2; i < len(all); i++ {
			env.Raw(fmt.Sprintf("UPDATE query_log SET actor = '%s', hash = '%s' WHERE id = %d", all[i].Actor, all[i].Hash, all[i].ID))
		}
		fresh()
		env.Raw(fmt.Sprintf("DELETE FROM query_log WHERE id >= %d", id(8)))
		tampered("removed tail", "rows were removed")
		// A forged seal (signed with another key) is refused.
		env.Raw("DELETE FROM query_log_seals")
		env.Raw(fmt.Sprintf("INSERT INTO query_log_seals (size, last_id, head, at, signed) VALUES (8, %d, '', 0, 'sirec.agency/110105/query-log\n8\nAAAA\n\n— sirec.agency/110105 AAAAAAAA\n')", id(7)))
		tampered("forged seal", "seal of 8 rows")
	})
}

func TestRowsFromBeforeTheChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		d := st.Driver()
		// Rows written by an earlier sirec carry no hash.
		for i := range 3 {
			env.Raw(fmt.Sprintf("INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose) VALUES (%d, 'staff', 'old%d', 'p%d', 'console/person', 'all', 'counter')",
				t0.UnixMilli(), i, i))
		}
		rep, err := querylog.Verify(ctx, d, st.Keys().Verifier)
		if err != nil || rep.Legacy != 3 {
			t.Fatalf("legacy only: %+v %v", rep, err)
		}
		if err := querylog.Append(ctx, d, entry(1)); err != nil {
			t.Fatal(err)
		}
		rep, err = querylog.Verify(ctx, d, st.Keys().Verifier)
		if err != nil || rep.Legacy != 3 || rep.Entries != 4 {
			t.Fatalf("after the first chained row: %+v %v", rep, err)
		}
		// The first chained row covers the rows before it: changing one is found.
		env.Raw("UPDATE query_log SET actor = 'changed' WHERE actor = 'old1'")
		if _, err := querylog.Verify(ctx, d, st.Keys().Verifier); !errors.Is(err, querylog.ErrTampered) {
			t.Fatalf("changed legacy row: %v", err)
		}
	})
}
