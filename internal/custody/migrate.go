package custody

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sirec/internal/journal"
	"sirec/internal/keyring"
	"sirec/internal/store"
)

// MigrateOptions say how to migrate.
type MigrateOptions struct {
	Keys     *keyring.Keyring // the agency's keys, the same for source and destination
	Force    bool             // discard whatever the destination holds first
	Now      func() time.Time
	Progress func(stage string, done, total int64)
}

// Migrate copies everything from one database to another — SQLite to PostgreSQL or back (R9.4, I5): the journal
// and the application's state as they are, in one transaction on the destination; the projections rebuilt there
// from the journal through the rules. It then proves the copy: the destination verifies under the agency's
// key with the source's journal root; every table and headline figure is the source's; and every person's
// whole record, as the service shows it, is the same on both. The source is only read, in one consistent
// snapshot, and is left as it was, for checking. A migration that fails leaves the destination empty again.
func Migrate(ctx context.Context, from, to store.Driver, opt MigrateOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{What: "migrate", URL: from.Name() + " → " + to.Name()}
	defer func() { rep.Took = time.Since(start) }()
	if opt.Keys == nil {
		return rep, rep.fail("keys", errors.New("the agency's keys are needed"))
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	progress := func(stage string, done, total int64) {
		if opt.Progress != nil {
			opt.Progress(stage, done, total)
		}
	}
	cfg := store.Config{Region: strings.TrimPrefix(opt.Keys.Origin, "sirec.agency/")}
	src, err := store.OpenExisting(ctx, from, opt.Keys, cfg)
	if err != nil {
		return rep, rep.fail("source", err)
	}
	snap, err := store.OpenSnapshot(ctx, from)
	if err != nil {
		return rep, rep.fail("source", err)
	}
	defer snap.Close(ctx)
	root := hex.EncodeToString(journal.NewTree().Root())
	if snap.Signed != "" {
		cp, err := journal.OpenCheckpoint([]byte(snap.Signed), opt.Keys.Verifier)
		if err != nil {
			return rep, rep.fail("source", fmt.Errorf("the source's latest checkpoint does not verify under the agency's key: %w", err))
		}
		root = hex.EncodeToString(cp.Root)
	}
	rep.pass("source", "%s, %d events, latest signed checkpoint size %d root %s", from.Name(), snap.Events, snap.Size, root)

	r, err := store.BeginRestore(ctx, to, opt.Force, now())
	if err != nil {
		return rep, rep.fail("destination", err)
	}
	committed := false
	defer func() {
		if !committed {
			r.Rollback(ctx)
		}
	}()
	var copied int64
	for _, t := range snap.Tables {
		if t.Kind == store.KindProjection {
			continue
		}
		cols := t.ColumnNames()
		batch := make([][]any, 0, 4096)
		var n int64
		err := snap.Scan(ctx, t, func(row []any) error {
			batch = append(batch, slices.Clone(row))
			n++
			if len(batch) == cap(batch) {
				if err := r.Insert(ctx, t.Name, cols, batch); err != nil {
					return err
				}
				batch = batch[:0]
				progress(t.Name, n, 0)
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = r.Insert(ctx, t.Name, cols, batch)
		}
		if err != nil {
			return rep, rep.fail("copy "+t.Name, err)
		}
		copied += n
	}
	rep.pass("copy", "%d rows of the journal and the application's state", copied)
	if err := r.Finish(ctx, true, func(done, total int64) { progress("rebuild", done, total) }); err != nil {
		return rep, rep.fail("rebuild", err)
	}
	committed = true
	if err := proveMigration(ctx, src, snap, to, opt, cfg, root, rep, progress); err != nil {
		if werr := store.Wipe(context.WithoutCancel(ctx), to); werr != nil {
			err = fmt.Errorf("%w (and emptying the destination again failed: %v)", err, werr)
			rep.Err = err
		}
		return rep, err
	}
	return rep, nil
}

func proveMigration(ctx context.Context, src *store.Store, snap *store.Snapshot, to store.Driver, opt MigrateOptions, cfg store.Config, root string, rep *Report, progress func(string, int64, int64)) error {
	vr, err := store.Verify(ctx, to, opt.Keys.Verifier, store.DefaultRules(), func(done, total int64) { progress("verify", done, total) })
	if err != nil {
		return rep.fail("verify", err)
	}
	rep.Events, rep.Root = vr.Events, vr.RootHex()
	if vr.Events != snap.Events || rep.Root != root {
		return rep.fail("journal", fmt.Errorf("%w: the destination's journal has %d events and root %s, the source's %d and %s", ErrMismatch, vr.Events, rep.Root, snap.Events, root))
	}
	rep.pass("journal", "%d events, %d checkpoints verify under %s; root %s is the source's", vr.Events, vr.Checkpoints, opt.Keys.Verifier.Name(), rep.Root)

	dst, err := store.OpenSnapshot(ctx, to)
	if err != nil {
		return rep.fail("tables", err)
	}
	defer dst.Close(ctx)
	var rows int64
	for _, t := range snap.Tables {
		if t.Kind == store.KindJournal {
			continue
		}
		dt, ok := dst.Table(t.Name)
		if !ok {
			return rep.fail("table "+t.Name, fmt.Errorf("%w: table %s is missing from the destination", ErrMismatch, t.Name))
		}
		n1, d1, err := tableDigest(ctx, snap, t)
		if err != nil {
			return rep.fail("table "+t.Name, err)
		}
		n2, d2, err := tableDigest(ctx, dst, dt)
		if err != nil {
			return rep.fail("table "+t.Name, err)
		}
		if n1 != n2 || d1 != d2 {
			return rep.fail("table "+t.Name, fmt.Errorf("%w: %s has %d rows (digest %s…) on the destination, %d (digest %s…) on the source", ErrMismatch, t.Name, n2, d2[:16], n1, d1[:16]))
		}
		rows += n1
	}
	rep.pass("tables", "%d rows of projections (rebuilt) and state identical to the source's", rows)
	f1, err := snap.Figures(ctx)
	if err != nil {
		return rep.fail("figures", err)
	}
	f2, err := dst.Figures(ctx)
	if err != nil {
		return rep.fail("figures", err)
	}
	for _, name := range sortedNames(f1) {
		if f1[name] != f2[name] {
			return rep.fail("figures", fmt.Errorf("%w: %s is %s on the destination, %s on the source", ErrMismatch, name, figure(name, f2[name]), figure(name, f1[name])))
		}
		rep.Figures = append(rep.Figures, [2]string{name, figure(name, f1[name])})
	}
	rep.pass("figures", "%d counts and money totals identical on both engines", len(rep.Figures))

	// Every person's whole record as the service shows it — registration, enrolments, contributions, benefits,
	// the derived account, years and pension estimate — is the same on both engines.
	dstStore, err := store.OpenExisting(ctx, to, opt.Keys, cfg)
	if err != nil {
		return rep.fail("persons", err)
	}
	total := f1["persons"]
	var compared int64
	const page = 500
	for offset := 0; ; offset += page {
		keys, err := src.PersonKeys(ctx, offset, page)
		if err != nil {
			return rep.fail("persons", err)
		}
		for _, k := range keys {
			a, err := personJSON(ctx, src, k)
			if err != nil {
				return rep.fail("persons", fmt.Errorf("source, person %s: %w", k, err))
			}
			b, err := personJSON(ctx, dstStore, k)
			if err != nil {
				return rep.fail("persons", fmt.Errorf("destination, person %s: %w", k, err))
			}
			if a != b {
				return rep.fail("persons", fmt.Errorf("%w: person %s's record differs between source and destination", ErrMismatch, k))
			}
			compared++
			if compared%1000 == 0 {
				progress("persons", compared, total)
			}
		}
		if len(keys) < page {
			break
		}
	}
	if compared != total {
		return rep.fail("persons", fmt.Errorf("%w: %d persons compared, %d registered", ErrMismatch, compared, total))
	}
	rep.pass("persons", "%d persons' whole records identical on both engines", compared)
	return nil
}

func personJSON(ctx context.Context, s *store.Store, person string) (string, error) {
	v, err := s.PersonRecord(ctx, person)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}
