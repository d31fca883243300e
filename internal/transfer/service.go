// Package transfer moves a person's rights record between regions (转移接续, R10). Each region's agency runs
// its own instance; they exchange signed, verifiable packages.
//
// At the origin a collector requests a transfer out; it is a review draft (kind transfer_out) like any other,
// and only its final approval records anything (I1): the account transfer out and the transfer.out event that
// marks the record transferred out, with the amounts the rules give at that moment — and, in the same
// transaction, the signed package and its place in the outbox. The outbox delivers it over HTTP to the
// destination, retrying with backoff until the destination answers; a package can also be carried as a file.
//
// At the destination a package is checked — the origin's signature against the trust list, the origin's signed
// checkpoint, the inclusion proof of every event, and every figure derived again by the rules from the events —
// and, when everything holds, becomes a review draft (kind transfer_in). Its approval records the transfer-in
// events (registration or re-activation, deemed periods, the account transferred in, the months transferred)
// and queues a signed acknowledgement to the origin; a rejection refuses the transfer and tells the origin why.
package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Transfer statuses. At the origin: requested → approved → sent → acknowledged, or refused (by the destination,
// on arrival or by its reviewers), or withdrawn (the request, before approval). At the destination: received →
// accepted → acknowledged (the origin has the acknowledgement), or refused.
const (
	StatusRequested    = "requested"
	StatusApproved     = "approved"
	StatusSent         = "sent"
	StatusReceived     = "received"
	StatusAccepted     = "accepted"
	StatusAcknowledged = "acknowledged"
	StatusRefused      = "refused"
	StatusWithdrawn    = "withdrawn"
)

// Statuses lists every status in the order of the procedure.
var Statuses = []string{StatusRequested, StatusApproved, StatusSent, StatusReceived, StatusAccepted, StatusAcknowledged, StatusRefused, StatusWithdrawn}

// Directions.
const (
	Out = "out"
	In  = "in"
)

// Config holds the delivery settings.
type Config struct {
	Client    *http.Client   // nil: a client with a 60-second timeout
	Poll      time.Duration  // how often the outbox is looked at; 0: 5 seconds
	RetryBase time.Duration  // the first wait after a failed delivery, doubled each time; 0: 5 seconds
	RetryMax  time.Duration  // the longest wait between attempts; 0: 30 minutes
	Location  *time.Location // the agency's time zone, for the month of transfer; nil: time.Local
	Logger    *slog.Logger   // nil: slog.Default()
}

// MaxPackage bounds a package or acknowledgement accepted over HTTP or from a file.
const MaxPackage = 64 << 20

// Service runs transfers on one store.
type Service struct {
	st  *store.Store
	rv  *review.Service
	cfg Config
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// kicks wake the delivery loop of a store when something is queued.
var kicks sync.Map // *store.Store → chan struct{}

func kickOf(st *store.Store) chan struct{} {
	c, _ := kicks.LoadOrStore(st, make(chan struct{}, 1))
	return c.(chan struct{})
}

func kick(st *store.Store) {
	select {
	case kickOf(st) <- struct{}{}:
	default:
	}
}

// New returns the transfer service of a store. rv is the review service drafts go through (nil: review.New(st)).
// The first service made for a store lends its settings to the review procedures of that store's transfers.
func New(st *store.Store, rv *review.Service, cfg Config) *Service {
	s := newService(st, rv, cfg)
	servicesMu.Lock()
	if _, ok := services[st]; !ok {
		services[st] = s
	}
	servicesMu.Unlock()
	return s
}

func newService(st *store.Store, rv *review.Service, cfg Config) *Service {
	if rv == nil {
		rv = review.New(st)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Minute
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{st: st, rv: rv, cfg: cfg, Now: time.Now}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) write(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Number formats a transfer's number for people: T000042.
func Number(id int64) string { return fmt.Sprintf("T%06d", id) }

// ParseNumber reads a transfer number ("T000042" or "42").
func ParseNumber(field, s string) (int64, error) {
	var id int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(strings.ToUpper(s), "T"), "%d", &id); err != nil || id <= 0 {
		return 0, record.Invalid(field, "transfer_number", "%q is not a transfer number such as T000042", s)
	}
	return id, nil
}

// monthOf returns the month (period) of t in the agency's time zone.
func monthOf(t time.Time, loc *time.Location) record.Period {
	t = t.In(loc)
	return record.MakePeriod(t.Year(), int(t.Month()))
}

// Transfer is one transfer, out or in, as staff see it.
type Transfer struct {
	ID             int64      `json:"id"`
	Number         string     `json:"number"`
	Direction      string     `json:"direction"`
	PackageID      string     `json:"package_id"`
	Person         string     `json:"person,omitempty"` // the person key at this agency, once known
	Name           string     `json:"name"`
	IDMasked       string     `json:"id_number_masked"`
	OtherRegion    string     `json:"other_region"`
	Status         string     `json:"status"`
	Reason         string     `json:"reason"`
	Detail         string     `json:"detail,omitempty"` // the last refusal or delivery problem
	Draft          string     `json:"draft,omitempty"`
	DraftID        int64      `json:"-"`
	Period         string     `json:"period,omitempty"`
	Account        record.Fen `json:"account"`
	PooledFund     record.Fen `json:"pooled_fund"`
	Months         []Months   `json:"months"`
	Overlap        []string   `json:"overlap"` // months already held here ("pension 202401"), flagged at arrival
	PackageSHA256  string     `json:"package_sha256,omitempty"`
	CheckpointSize int64      `json:"checkpoint_size,omitempty"`
	FirstSeq       int64      `json:"first_seq,omitempty"`
	EventCount     int64      `json:"event_count,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	CreatedBy      string     `json:"created_by"`
	UpdatedAt      time.Time  `json:"updated_at"`
	History        []History  `json:"history,omitempty"`
	Deliveries     []Delivery `json:"deliveries,omitempty"`
}

// History is one step of a transfer.
type History struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
}

// Delivery is one message of the outbox: the package, an acknowledgement or a refusal, and how its delivery went.
type Delivery struct {
	Kind        string    `json:"kind"` // package, ack, refusal
	Region      string    `json:"region"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"next_at,omitzero"`
	LastAt      time.Time `json:"last_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	GaveUpAt    time.Time `json:"gave_up_at,omitzero"`
}

// summary is what the transfers row keeps of the record for lists.
type summary struct {
	Months []Months `json:"months"`
}

const transferCols = `id, direction, package_id, person, name, id_masked, other_region, status, reason, detail, draft_id, period,
	account, pooled_fund, summary, overlap, package_sha256, checkpoint_size, first_seq, event_count, created_at, created_by, updated_at`

func scanTransfer(r interface{ Scan(...any) error }) (Transfer, error) {
	var t Transfer
	var period, created, updated int64
	var sum, overlap string
	err := r.Scan(&t.ID, &t.Direction, &t.PackageID, &t.Person, &t.Name, &t.IDMasked, &t.OtherRegion, &t.Status, &t.Reason, &t.Detail,
		&t.DraftID, &period, &t.Account, &t.PooledFund, &sum, &overlap, &t.PackageSHA256, &t.CheckpointSize, &t.FirstSeq, &t.EventCount,
		&created, &t.CreatedBy, &updated)
	if err != nil {
		return t, err
	}
	t.Number = Number(t.ID)
	if t.DraftID > 0 {
		t.Draft = review.DraftID(t.DraftID)
	}
	if period > 0 {
		t.Period = record.Period(period).String()
	}
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	var sm summary
	if sum != "" {
		json.Unmarshal([]byte(sum), &sm)
	}
	t.Months = sm.Months
	if t.Months == nil {
		t.Months = []Months{}
	}
	t.Overlap = []string{}
	if overlap != "" {
		json.Unmarshal([]byte(overlap), &t.Overlap)
	}
	return t, nil
}

// getIn reads a transfer in tx by a condition on one value.
func getIn(ctx context.Context, tx store.Tx, where string, arg any) (Transfer, error) {
	t, err := scanTransfer(tx.QueryRow(ctx, "SELECT "+transferCols+" FROM transfers WHERE "+where, arg))
	if errors.Is(err, store.ErrNoRows) {
		return t, record.Errorf(record.ENotFound, "no such transfer")
	}
	return t, err
}

// addHistory records a step of a transfer and sets its status (and detail, when not empty).
func addHistory(ctx context.Context, tx store.Tx, id int64, now time.Time, status, actor, detail string) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(n), 0) + 1 FROM transfer_history WHERE transfer_id = $1", id).Scan(&n); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO transfer_history (transfer_id, n, at, status, actor, detail) VALUES ($1, $2, $3, $4, $5, $6)",
		id, n, now.UnixMilli(), status, actor, detail); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "UPDATE transfers SET status = $1, detail = CASE WHEN $2 = '' THEN detail ELSE $2 END, updated_at = $3 WHERE id = $4",
		status, detail, now.UnixMilli(), id)
	return err
}

// Get returns a transfer with its history and deliveries.
func (s *Service) Get(ctx context.Context, id int64) (Transfer, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Transfer{}, err
	}
	defer tx.Rollback(ctx)
	t, err := getIn(ctx, tx, "id = $1", id)
	if err != nil {
		return t, record.Errorf(record.ENotFound, "transfer %s does not exist", Number(id))
	}
	rows, err := tx.Query(ctx, "SELECT at, status, actor, detail FROM transfer_history WHERE transfer_id = $1 ORDER BY n", id)
	if err != nil {
		return t, err
	}
	for rows.Next() {
		var h History
		var at int64
		if err := rows.Scan(&at, &h.Status, &h.Actor, &h.Detail); err != nil {
			rows.Close()
			return t, err
		}
		h.At = time.UnixMilli(at).UTC()
		t.History = append(t.History, h)
	}
	rows.Close()
	rows, err = tx.Query(ctx, "SELECT kind, region, attempts, next_at, last_at, last_error, delivered_at, gave_up_at FROM transfer_outbox WHERE transfer_id = $1 ORDER BY id", id)
	if err != nil {
		return t, err
	}
	defer rows.Close()
	for rows.Next() {
		var d Delivery
		var next, last, delivered, gave int64
		if err := rows.Scan(&d.Kind, &d.Region, &d.Attempts, &next, &last, &d.LastError, &delivered, &gave); err != nil {
			return t, err
		}
		d.NextAt, d.LastAt, d.DeliveredAt, d.GaveUpAt = msTime(next), msTime(last), msTime(delivered), msTime(gave)
		if delivered > 0 || gave > 0 {
			d.NextAt = time.Time{}
		}
		t.Deliveries = append(t.Deliveries, d)
	}
	return t, rows.Err()
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ByPackage returns the transfer of a package id (either direction at this agency).
func (s *Service) ByPackage(ctx context.Context, packageID string) (Transfer, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Transfer{}, err
	}
	defer tx.Rollback(ctx)
	t, err := getIn(ctx, tx, "package_id = $1", packageID)
	if err != nil {
		return t, err
	}
	return s.Get(ctx, t.ID)
}

// Filter narrows List; empty fields match everything.
type Filter struct {
	Direction string
	Status    string
	Person    string
}

// List returns transfers newest first, limit of them after offset, and how many match.
func (s *Service) List(ctx context.Context, f Filter, offset, limit int) ([]Transfer, int, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "range", "offset from 0 and limit 1 to 1000")
	}
	var where []string
	var args []any
	if f.Direction != "" {
		if f.Direction != Out && f.Direction != In {
			return nil, 0, record.Invalid("direction", "transfer_direction", "direction is out or in")
		}
		args = append(args, f.Direction)
		where = append(where, fmt.Sprintf("direction = $%d", len(args)))
	}
	if f.Status != "" {
		if !contains(Statuses, f.Status) {
			return nil, 0, record.Invalid("status", "transfer_status", "status is one of %s", strings.Join(Statuses, ", "))
		}
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.Person != "" {
		args = append(args, f.Person)
		where = append(where, fmt.Sprintf("person = $%d", len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfers"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM transfers%s ORDER BY id DESC LIMIT $%d OFFSET $%d", transferCols, cond, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Transfer{}
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Refusal is a package or acknowledgement refused on arrival, before anything was kept of it.
type Refusal struct {
	At        time.Time `json:"at"`
	Source    string    `json:"source"` // http:<address> or file:<name>
	PackageID string    `json:"package_id,omitempty"`
	SHA256    string    `json:"sha256"`
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor,omitempty"`
}

// Refusals returns the refusals on arrival, newest first.
func (s *Service) Refusals(ctx context.Context, offset, limit int) ([]Refusal, int, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "range", "offset from 0 and limit 1 to 1000")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfer_refusals").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT at, source, package_id, sha256, reason, actor FROM transfer_refusals ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Refusal{}
	for rows.Next() {
		var r Refusal
		var at int64
		if err := rows.Scan(&at, &r.Source, &r.PackageID, &r.SHA256, &r.Reason, &r.Actor); err != nil {
			return nil, 0, err
		}
		r.At = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, total, rows.Err()
}

func (s *Service) logRefusal(ctx context.Context, r Refusal) {
	err := s.write(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO transfer_refusals (at, source, package_id, sha256, reason, actor) VALUES ($1, $2, $3, $4, $5, $6)",
			s.now().UnixMilli(), r.Source, r.PackageID, r.SHA256, r.Reason, r.Actor)
		return err
	})
	if err != nil {
		s.cfg.Logger.Error("transfer: logging a refusal", "err", err)
	}
}

// Package returns the signed package of a transfer (out: once approved; in: as it arrived), for carriage as a
// file or for checking. actor is noted in the transfer's history.
func (s *Service) Package(ctx context.Context, id int64, actor string) ([]byte, Transfer, error) {
	var signed []byte
	var t Transfer
	err := s.write(ctx, func(tx store.Tx) error {
		var err error
		if t, err = getIn(ctx, tx, "id = $1", id); err != nil {
			return record.Errorf(record.ENotFound, "transfer %s does not exist", Number(id))
		}
		if signed, err = s.packageIn(ctx, tx, id); err != nil {
			return err
		}
		return addHistory(ctx, tx, id, s.now(), t.Status, actor, "package exported as a file")
	})
	return signed, t, err
}

const packageLabel = "transfer-package"

func (s *Service) packageIn(ctx context.Context, tx store.Tx, id int64) ([]byte, error) {
	var sealed []byte
	if err := tx.QueryRow(ctx, "SELECT package FROM transfers WHERE id = $1", id).Scan(&sealed); err != nil {
		return nil, err
	}
	if len(sealed) == 0 {
		return nil, record.Errorf(record.EConflict, "transfer %s has no package yet: it is built when the transfer is approved", Number(id))
	}
	return s.st.Keys().Open(sealed, packageLabel)
}

// Message returns the last acknowledgement or refusal queued for a transfer in, for carriage as a file.
func (s *Service) Message(ctx context.Context, id int64) ([]byte, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var body []byte
	err = tx.QueryRow(ctx, "SELECT body FROM transfer_outbox WHERE transfer_id = $1 AND kind <> 'package' ORDER BY id DESC LIMIT 1", id).Scan(&body)
	if errors.Is(err, store.ErrNoRows) {
		return nil, record.Errorf(record.ENotFound, "transfer %s has no acknowledgement or refusal yet", Number(id))
	}
	return body, err
}

// queue puts a message into the outbox, to be delivered to region from now on.
func queue(ctx context.Context, tx store.Tx, id int64, kind, region string, body []byte, now time.Time) error {
	if body == nil {
		body = []byte{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO transfer_outbox (transfer_id, kind, region, body, attempts, next_at, last_at, last_error, delivered_at, gave_up_at, created_at)
		VALUES ($1, $2, $3, $4, 0, $5, 0, '', 0, 0, $5)`, id, kind, region, body, now.UnixMilli())
	return err
}

// Resend queues again a delivery that was refused or given up — after the trust list or the address was put
// right at either end. An outgoing package refused on arrival goes back to approved.
func (s *Service) Resend(ctx context.Context, actor string, id int64) (Transfer, error) {
	now := s.now()
	err := s.write(ctx, func(tx store.Tx) error {
		t, err := getIn(ctx, tx, "id = $1", id)
		if err != nil {
			return record.Errorf(record.ENotFound, "transfer %s does not exist", Number(id))
		}
		var box int64
		var kind string
		err = tx.QueryRow(ctx, "SELECT id, kind FROM transfer_outbox WHERE transfer_id = $1 AND gave_up_at > 0 ORDER BY id DESC LIMIT 1", id).Scan(&box, &kind)
		if errors.Is(err, store.ErrNoRows) {
			return record.Errorf(record.EConflict, "transfer %s has no delivery that was refused or given up; nothing to resend", t.Number)
		}
		if err != nil {
			return err
		}
		if t.Direction == Out && kind == "package" && t.Status != StatusRefused {
			return record.Errorf(record.EConflict, "transfer %s is %s", t.Number, t.Status)
		}
		if _, err := tx.Exec(ctx, "UPDATE transfer_outbox SET gave_up_at = 0, attempts = 0, next_at = $1, last_error = '' WHERE id = $2", now.UnixMilli(), box); err != nil {
			return err
		}
		status := t.Status
		if t.Direction == Out && kind == "package" {
			status = StatusApproved
		}
		return addHistory(ctx, tx, id, now, status, actor, "queued again for delivery")
	})
	if err != nil {
		return Transfer{}, err
	}
	kick(s.st)
	return s.Get(ctx, id)
}
