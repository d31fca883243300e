package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// TestQueryBatch: a batch's queries run in order, each row handed to its own query's callback, on both engines
// (PostgreSQL in one round trip); a failing query or callback fails the batch with its error.
func TestQueryBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		d := env.Store().Driver()
		tx, err := d.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var got []string
		collect := func(tag string) func(store.Rows) error {
			return func(r store.Rows) error {
				var n int64
				if err := r.Scan(&n); err != nil {
					return err
				}
				got = append(got, fmt.Sprintf("%s%d", tag, n))
				return nil
			}
		}
		err = store.QueryBatch(ctx, tx, []store.BatchQuery{
			{SQL: "SELECT 1 UNION ALL SELECT CAST($1 AS BIGINT)", Args: []any{int64(2)}, Row: collect("a")},
			{SQL: "SELECT 7 WHERE 1 = CAST($1 AS BIGINT)", Args: []any{int64(0)}, Row: collect("b")}, // no rows
			{SQL: "SELECT CAST($1 AS BIGINT)", Args: []any{int64(3)}, Row: collect("c")},
		})
		if err != nil || strings.Join(got, ",") != "a1,a2,c3" {
			t.Fatalf("batch: %v %v", got, err)
		}
		tx.Rollback(ctx)

		for name, qs := range map[string][]store.BatchQuery{
			"bad SQL":  {{SQL: "SELECT 1", Row: collect("x")}, {SQL: "SELECT FROM nowhere_at_all", Row: collect("y")}},
			"callback": {{SQL: "SELECT 1", Row: func(store.Rows) error { return fmt.Errorf("refused by callback") }}},
		} {
			tx, err := d.Begin(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			err = store.QueryBatch(ctx, tx, qs)
			tx.Rollback(ctx)
			if err == nil || (name == "callback" && !strings.Contains(err.Error(), "refused by callback")) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
