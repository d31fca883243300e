package querylog

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

func groupEntry(caller, i int) Entry {
	return Entry{At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), ActorKind: ActorStaff, Actor: fmt.Sprintf("caller%02d", caller),
		Person: fmt.Sprintf("p%02d-%d", caller, i), Page: "api/persons", Fields: "whole record", Purpose: "test"}
}

// waitQueue waits until d's group holds n waiting callers (a leader is writing, or blocked on the lock).
func waitQueue(t *testing.T, d store.Driver, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		groups.mu.Lock()
		grp, ok := groups.by[d]
		got := -1
		if ok {
			got = len(grp.queue)
		}
		groups.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the group never held %d waiting callers", n)
}

// TestGroupCommit: appends that arrive while a transaction is being written are written together in the next
// one, each caller's entries together and in order, each caller told of its own commit; the chain verifies.
func TestGroupCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		d := st.Driver()
		// Hold the write lock so that the first caller's transaction waits and the others queue behind it.
		hold, err := d.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		before := transactions.Load()
		errs := make(chan error, 22)
		go func() { errs <- Append(ctx, d, groupEntry(0, 0)) }()
		waitQueue(t, d, 0) // the leader took its batch and waits for the lock
		const callers = 20
		var wg sync.WaitGroup
		for c := 1; c <= callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- Append(ctx, d, groupEntry(c, 0), groupEntry(c, 1))
			}()
		}
		waitQueue(t, d, callers)
		// A caller whose context is cancelled while queued is still written, and learns the outcome.
		cctx, cancel := context.WithCancel(ctx)
		go func() { errs <- Append(cctx, d, groupEntry(21, 0)) }()
		waitQueue(t, d, callers+1)
		cancel()
		if err := hold.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for range callers + 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := transactions.Load() - before; n != 2 {
			t.Errorf("%d transactions for 22 callers queued behind one, want 2 (the first alone, then the rest)", n)
		}
		all, err := Export(ctx, d, Filter{})
		if err != nil || len(all) != 1+2*callers+1 {
			t.Fatalf("%d entries, %v", len(all), err)
		}
		// Export lists oldest first; each caller's two entries are adjacent and in order.
		pos := map[string]int{}
		for i, e := range all {
			pos[e.Person] = i
		}
		for c := 1; c <= callers; c++ {
			if a, b := pos[fmt.Sprintf("p%02d-0", c)], pos[fmt.Sprintf("p%02d-1", c)]; b != a+1 {
				t.Errorf("caller %d: entries at %d and %d, not adjacent in order", c, a, b)
			}
		}
		rep, err := Verify(ctx, d, st.Keys().Verifier)
		if err != nil || rep.Entries != int64(len(all)) {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		groups.mu.Lock()
		_, left := groups.by[d]
		groups.mu.Unlock()
		if left {
			t.Error("the group outlived its last transaction")
		}
	})
}

// TestConcurrentAppendsKeepTheChain: many callers appending at once, with no lock held, all get their
// entries written exactly once and the chain verifies.
func TestConcurrentAppendsKeepTheChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		d := st.Driver()
		var wg sync.WaitGroup
		errs := make(chan error, 8*40)
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					errs <- Append(ctx, d, groupEntry(c, i))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		all, err := Export(ctx, d, Filter{})
		if err != nil || len(all) != 320 {
			t.Fatalf("%d entries, %v", len(all), err)
		}
		seen := map[string]bool{}
		for _, e := range all {
			if seen[e.Person] {
				t.Fatalf("%s written twice", e.Person)
			}
			seen[e.Person] = true
		}
		if rep, err := Verify(ctx, d, st.Keys().Verifier); err != nil || rep.Entries != 320 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}
