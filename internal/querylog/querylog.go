// Package querylog is the query log (查询日志, Q7): every read of a person's data by anyone but that person —
// staff, an employer, a proxy, another body — with who, when, whose data, which page and fields, and the purpose
// or the application it was made under. The log is append-only and tamper-evident:
//
//   - each row's hash is SHA-256 over the previous row's hash and the row's own contents (a hash chain), so a
//     row changed, removed, inserted or moved behind the application's back breaks the chain from there on;
//   - seals — the chain's length and head hash, signed with the agency's checkpoint key as a C2SP note with the
//     origin "<agency origin>/query-log" — tie the chain to a key that is kept outside the database: whoever
//     rewrites the chain from a changed row on cannot sign a matching seal.
//
// Verify checks both. Appends are serialised by the engine's write transaction, so the chain cannot fork.
package querylog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/export"
	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Actor kinds: who read a person's data.
const (
	ActorStaff    = "staff"    // agency staff (console, API)
	ActorEmployer = "employer" // an employer's portal account, for its employees (Q3)
	ActorProxy    = "proxy"    // a proxy holding a written authorisation (Q1)
	ActorBody     = "body"     // another body under an approved application (Q6)
)

// ActorKinds lists the actor kinds.
var ActorKinds = []string{ActorStaff, ActorEmployer, ActorProxy, ActorBody}

// Entry is one read of a person's data by someone other than that person.
type Entry struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	ActorKind   string    `json:"actor_kind"`
	Actor       string    `json:"actor"`       // staff user, portal account, or "<proxy/body> via <staff user>"
	Person      string    `json:"person"`      // the person key
	Page        string    `json:"page"`        // the page or route that showed the data
	Fields      string    `json:"fields"`      // the groups of fields shown
	Purpose     string    `json:"purpose"`     // the purpose stated
	Application string    `json:"application"` // the authorisation or application it was made under, if any
	Hash        string    `json:"hash"`        // the chain hash of this row (hex)
}

func (e *Entry) validate() error {
	if e.Person == "" || e.Actor == "" || e.Page == "" || e.Purpose == "" {
		return record.Invalid("query_log", "required", "a query log entry needs actor, person, page and purpose")
	}
	if e.ActorKind == "" {
		e.ActorKind = ActorStaff
	}
	if !contains(ActorKinds, e.ActorKind) {
		return record.Invalid("actor_kind", "actor_kind", "actor kind %q is not one of %s", e.ActorKind, strings.Join(ActorKinds, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Genesis is the hash the chain starts from.
var Genesis = sha256.Sum256([]byte("sirec/query-log/genesis"))

// Chain returns the hash of a row that follows a row with hash prev: SHA-256 over a label, prev, the time in
// milliseconds and each text field, length-prefixed, in a fixed order. The row's id is not covered (ids come
// from the engine's sequence); its place in the chain is.
func Chain(prev []byte, e Entry) []byte {
	h := sha256.New()
	h.Write([]byte("sirec/query-log/v1\x00"))
	h.Write(prev)
	var b [binary.MaxVarintLen64]byte
	binary.BigEndian.PutUint64(b[:8], uint64(e.At.UnixMilli()))
	h.Write(b[:8])
	for _, s := range []string{e.ActorKind, e.Actor, e.Person, e.Page, e.Fields, e.Purpose, e.Application} {
		n := binary.PutUvarint(b[:], uint64(len(s)))
		h.Write(b[:n])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// Append writes entries to the log, each chained to the one before, and returns once they are committed: a
// read is registered before its data is served (Q7). Nothing is written when any entry is incomplete.
//
// Appends from concurrent callers are committed together (group commit): while one transaction is being
// written, the entries that arrive queue up, and the next transaction takes them all. Each caller's entries
// stay together and in order, and each caller still waits for the commit of its own. Under load this turns a
// transaction per read — each taking the engine's single write lock and, on SQLite, a WAL frame and a
// checkpoint — into one per few reads; a lone caller writes at once, as before.
func Append(ctx context.Context, d store.Driver, entries ...Entry) error {
	for i := range entries {
		if err := entries[i].validate(); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return groups.append(ctx, d, entries)
}

// groups queues the appends waiting for each driver's next transaction.
var groups = &grouper{by: map[store.Driver]*group{}}

type grouper struct {
	mu sync.Mutex
	by map[store.Driver]*group // only drivers with a transaction being written
}

// group is one driver's queue: the caller whose transaction is being written leads; the others wait.
type group struct {
	queue []*waiter
}

type waiter struct {
	entries []Entry
	done    chan error    // the outcome of the transaction that held the entries
	lead    chan struct{} // closed when this caller is to write the next transaction
}

func (g *grouper) append(ctx context.Context, d store.Driver, entries []Entry) error {
	w := &waiter{entries: entries, done: make(chan error, 1), lead: make(chan struct{})}
	g.mu.Lock()
	grp, busy := g.by[d]
	if !busy {
		grp = &group{}
		g.by[d] = grp
	}
	grp.queue = append(grp.queue, w)
	g.mu.Unlock()
	if busy {
		// Wait for a leader to write the entries, or to be made leader. The wait is not cut short by ctx:
		// queued entries are written whatever happens to their caller, and the caller learns the outcome.
		select {
		case err := <-w.done:
			return err
		case <-w.lead:
		}
	}
	// Lead: write every queued entry in one transaction, tell each waiter, then hand over to the first caller
	// that queued meanwhile (or close the group). The transaction does not end with this caller's request.
	g.mu.Lock()
	batch := grp.queue
	grp.queue = nil
	g.mu.Unlock()
	var all []Entry
	for _, b := range batch {
		all = append(all, b.entries...)
	}
	err := write(context.WithoutCancel(ctx), d, all)
	for _, b := range batch {
		b.done <- err
	}
	g.mu.Lock()
	if len(grp.queue) == 0 {
		delete(g.by, d)
	} else {
		close(grp.queue[0].lead)
	}
	g.mu.Unlock()
	return <-w.done
}

// transactions counts the transactions written, for the tests of grouping.
var transactions atomic.Int64

// write appends entries in one transaction.
func write(ctx context.Context, d store.Driver, entries []Entry) error {
	transactions.Add(1)
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	prev, err := head(ctx, tx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.At = e.At.Truncate(time.Millisecond)
		prev = Chain(prev, e)
		if _, err := tx.Exec(ctx, "INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose, application, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			e.At.UnixMilli(), e.ActorKind, e.Actor, e.Person, e.Page, e.Fields, e.Purpose, e.Application, hex.EncodeToString(prev)); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// head returns the hash of the last row. Rows written before the chain existed (schema step 8) carry no hash:
// the first append after them chains them all in, so that they are covered from then on.
func head(ctx context.Context, tx store.Tx) ([]byte, error) {
	var h string
	err := tx.QueryRow(ctx, "SELECT hash FROM query_log ORDER BY id DESC LIMIT 1").Scan(&h)
	if errors.Is(err, store.ErrNoRows) {
		return Genesis[:], nil
	}
	if err != nil {
		return nil, err
	}
	if h != "" {
		return hex.DecodeString(h)
	}
	prev := Genesis[:]
	err = scan(ctx, tx, func(e Entry) error {
		if e.Hash != "" {
			b, err := hex.DecodeString(e.Hash)
			if err != nil {
				return err
			}
			prev = b
			return nil
		}
		prev = Chain(prev, e)
		return nil
	})
	return prev, err
}

// scan reads every row in id order, in chunks, calling fn for each.
func scan(ctx context.Context, tx store.Tx, fn func(Entry) error) error {
	after := int64(-1 << 62)
	for {
		rows, err := tx.Query(ctx, "SELECT id, at, actor_kind, actor, person, page, fields, purpose, application, hash FROM query_log WHERE id > $1 ORDER BY id LIMIT 5000", after)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			n++
			after = e.ID
			if err := fn(e); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n < 5000 {
			return nil
		}
	}
}

func scanEntry(r store.Rows) (Entry, error) {
	var e Entry
	var at int64
	err := r.Scan(&e.ID, &at, &e.ActorKind, &e.Actor, &e.Person, &e.Page, &e.Fields, &e.Purpose, &e.Application, &e.Hash)
	e.At = time.UnixMilli(at).UTC()
	return e, err
}

// Filter narrows List and Export; empty fields match everything. To is exclusive.
type Filter struct {
	Person      string
	Actor       string
	ActorKind   string
	Purpose     string
	Application string
	From, To    time.Time
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Person != "" {
		add("person = $%d", f.Person)
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.ActorKind != "" {
		add("actor_kind = $%d", f.ActorKind)
	}
	if f.Purpose != "" {
		add("purpose = $%d", f.Purpose)
	}
	if f.Application != "" {
		add("application = $%d", f.Application)
	}
	if !f.From.IsZero() {
		add("at >= $%d", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("at < $%d", f.To.UnixMilli())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// List returns the entries matching f, newest first, limit of them (1 to 1000) after skipping offset, and how
// many match.
func List(ctx context.Context, d store.Driver, f Filter, offset, limit int) ([]Entry, int, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "range", "offset from 0 and limit 1 to 1000")
	}
	cond, args := f.where()
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM query_log"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT id, at, actor_kind, actor, person, page, fields, purpose, application, hash FROM query_log%s ORDER BY id DESC LIMIT $%d OFFSET $%d",
		cond, len(args)+1, len(args)+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, int(total), rows.Err()
}

// MaxExport bounds the rows of one export; narrow the filters for more.
const MaxExport = 100_000

// Export returns every entry matching f, oldest first, or an error naming the filters when more than
// MaxExport match.
func Export(ctx context.Context, d store.Driver, f Filter) ([]Entry, error) {
	cond, args := f.where()
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM query_log"+cond, args...).Scan(&total); err != nil {
		return nil, err
	}
	if total > MaxExport {
		return nil, record.Invalid("from", "export_size", "%d entries match; narrow the filters (dates, person, actor) to at most %d per export", total, MaxExport)
	}
	rows, err := tx.Query(ctx, "SELECT id, at, actor_kind, actor, person, page, fields, purpose, application, hash FROM query_log"+cond+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SealOrigin is the origin line of the log's seals for an agency whose checkpoints carry origin.
func SealOrigin(origin string) string { return origin + "/query-log" }

// Seal is a signed statement of the chain: after Size rows (the last with id LastID) its head is Head.
type Seal struct {
	Size   int64     `json:"size"`
	LastID int64     `json:"last_id"`
	Head   string    `json:"head"`
	At     time.Time `json:"at"`
	Signed string    `json:"signed"`
}

// SealNow signs the chain's current head, unless the latest seal already covers every row. It returns the
// latest seal and whether a new one was written.
func SealNow(ctx context.Context, d store.Driver, keys *keyring.Keyring, now time.Time) (Seal, bool, error) {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return Seal{}, false, err
	}
	defer tx.Rollback(ctx)
	var size, lastID int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM query_log").Scan(&size, &lastID); err != nil {
		return Seal{}, false, err
	}
	var s Seal
	var at int64
	err = tx.QueryRow(ctx, "SELECT size, last_id, head, at, signed FROM query_log_seals ORDER BY size DESC LIMIT 1").Scan(&s.Size, &s.LastID, &s.Head, &at, &s.Signed)
	if err != nil && !errors.Is(err, store.ErrNoRows) {
		return Seal{}, false, err
	}
	s.At = time.UnixMilli(at).UTC()
	if err == nil && s.Size == size {
		return s, false, nil
	}
	if size == 0 {
		return Seal{}, false, nil
	}
	h, err := head(ctx, tx)
	if err != nil {
		return Seal{}, false, err
	}
	s = Seal{Size: size, LastID: lastID, Head: hex.EncodeToString(h), At: now.UTC().Truncate(time.Millisecond)}
	signed, err := note.Sign(&note.Note{Text: sealText(keys.Origin, s.Size, h)}, keys.Signer)
	if err != nil {
		return Seal{}, false, err
	}
	s.Signed = string(signed)
	if _, err := tx.Exec(ctx, "INSERT INTO query_log_seals (size, last_id, head, at, signed) VALUES ($1, $2, $3, $4, $5)", s.Size, s.LastID, s.Head, s.At.UnixMilli(), s.Signed); err != nil {
		return Seal{}, false, err
	}
	return s, true, tx.Commit(ctx)
}

func sealText(origin string, size int64, head []byte) string {
	return SealOrigin(origin) + "\n" + strconv.FormatInt(size, 10) + "\n" + base64.StdEncoding.EncodeToString(head) + "\n"
}

// openSeal checks a seal's signature under v and returns the size and head it states.
func openSeal(signed string, v note.Verifier) (int64, []byte, error) {
	n, err := note.Open([]byte(signed), note.VerifierList(v))
	if err != nil {
		return 0, nil, fmt.Errorf("signature does not verify under key %s: %w", v.Name(), err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] != SealOrigin(v.Name()) {
		return 0, nil, fmt.Errorf("not a query log seal of %s", v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("size %q: %w", lines[1], err)
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != sha256.Size {
		return 0, nil, fmt.Errorf("head %q is not a base64 SHA-256 hash", lines[2])
	}
	return size, h, nil
}

// Report is what Verify found.
type Report struct {
	Entries       int64  `json:"entries"`        // rows in the log
	Legacy        int64  `json:"legacy"`         // rows from before the chain, covered by the first chained row
	Head          string `json:"head"`           // the chain's head hash (hex)
	Seals         int    `json:"seals"`          // signed seals checked
	SealedThrough int64  `json:"sealed_through"` // rows covered by the latest seal
	Unsealed      int64  `json:"unsealed"`       // rows after the latest seal, protected by the chain alone until sealed
}

// ErrTampered is wrapped by Verify's errors when the log is not what its chain and seals say.
var ErrTampered = errors.New("query log tampered")

// Verify checks the whole log: every row's hash against the chain recomputed from the start, and every seal's
// signature under v and its head against the chain at its size. The first problem is named in the error
// (wrapping ErrTampered), e.g. "query log row 42: hash does not match its contents".
func Verify(ctx context.Context, d store.Driver, v note.Verifier) (Report, error) {
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return Report{}, err
	}
	defer tx.Rollback(ctx)
	type seal struct {
		size int64
		head []byte
	}
	var seals []seal
	rows, err := tx.Query(ctx, "SELECT size, signed FROM query_log_seals ORDER BY size")
	if err != nil {
		return Report{}, err
	}
	for rows.Next() {
		var size int64
		var signed string
		if err := rows.Scan(&size, &signed); err != nil {
			rows.Close()
			return Report{}, err
		}
		n, h, err := openSeal(signed, v)
		if err != nil {
			rows.Close()
			return Report{}, fmt.Errorf("%w: seal of %d rows: %v", ErrTampered, size, err)
		}
		if n != size {
			rows.Close()
			return Report{}, fmt.Errorf("%w: seal row says %d rows, its signed text %d", ErrTampered, size, n)
		}
		seals = append(seals, seal{size, h})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Report{}, err
	}
	var rep Report
	prev := Genesis[:]
	chained := false
	next := 0 // the next seal to meet
	check := func() error {
		for next < len(seals) && seals[next].size == rep.Entries {
			if !bytes.Equal(seals[next].head, prev) {
				return fmt.Errorf("%w: the chain after %d rows does not match the signed seal of that size: rows were changed, removed or inserted", ErrTampered, rep.Entries)
			}
			next++
		}
		return nil
	}
	if err := check(); err != nil {
		return rep, err
	}
	err = scan(ctx, tx, func(e Entry) error {
		h := Chain(prev, e)
		switch {
		case e.Hash == "" && !chained:
			rep.Legacy++
		case e.Hash == "":
			return fmt.Errorf("%w: query log row %d has no hash: it was written behind the application's back", ErrTampered, e.ID)
		default:
			chained = true
			if e.Hash != hex.EncodeToString(h) {
				return fmt.Errorf("%w: query log row %d: hash does not match its contents or the row before it (changed, removed or moved rows)", ErrTampered, e.ID)
			}
		}
		prev = h
		rep.Entries++
		return check()
	})
	if err != nil {
		return rep, err
	}
	if next < len(seals) {
		return rep, fmt.Errorf("%w: a signed seal covers %d rows but the log has %d: rows were removed", ErrTampered, seals[next].size, rep.Entries)
	}
	if !chained && rep.Legacy > 0 {
		// Only rows from before the chain: nothing covers them yet; the next append chains them in.
		rep.Legacy = rep.Entries
	}
	rep.Head = hex.EncodeToString(prev)
	rep.Seals = len(seals)
	if len(seals) > 0 {
		rep.SealedThrough = seals[len(seals)-1].size
	}
	rep.Unsealed = rep.Entries - rep.SealedThrough
	return rep, nil
}

// Table is the query log as a table for CSV or XLSX export.
func Table(es []Entry) export.Table {
	t := export.Table{Sheet: "查询日志", Header: []string{"编号 id", "时间 time", "查询方 actor_kind", "查询人 actor", "人员 person", "页面 page",
		"内容 fields", "目的 purpose", "授权或申请 application", "哈希 hash"}}
	for _, e := range es {
		t.Rows = append(t.Rows, []string{strconv.FormatInt(e.ID, 10), e.At.Format("2006-01-02 15:04:05"), e.ActorKind, e.Actor, e.Person, e.Page,
			e.Fields, e.Purpose, e.Application, e.Hash})
	}
	return t
}
