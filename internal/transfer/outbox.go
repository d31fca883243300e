package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Paths of the receiving agency's API that messages are delivered to.
const (
	InboxPath = "/api/v1/transfers/inbox" // packages
	AcksPath  = "/api/v1/transfers/acks"  // acknowledgements and refusals
)

// Run delivers the outbox until ctx ends: every Poll, and soon after something is queued. What is due is
// delivered; a failure is retried with a doubling wait up to RetryMax. The outbox is in the database, so a
// restart goes on where the last run stopped.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	k := kickOf(s.st)
	for {
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("transfer: delivering the outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-k:
			// Queued inside a transaction that may not have committed yet: give it a moment.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

type outboxRow struct {
	id, transfer int64
	kind, region string
	body         []byte
	attempts     int
	nextAt       int64
}

// DeliverDue delivers every message that is due now and reports how many were delivered.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT id, transfer_id, kind, region, body, attempts, next_at FROM transfer_outbox
		WHERE delivered_at = 0 AND gave_up_at = 0 AND next_at <= $1 ORDER BY next_at, id LIMIT 50`, s.now().UnixMilli())
	if err != nil {
		tx.Rollback(ctx)
		return 0, err
	}
	var due []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.id, &r.transfer, &r.kind, &r.region, &r.body, &r.attempts, &r.nextAt); err != nil {
			rows.Close()
			tx.Rollback(ctx)
			return 0, err
		}
		due = append(due, r)
	}
	rows.Close()
	tx.Rollback(ctx)
	n := 0
	for _, r := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		ok, err := s.deliver(ctx, r)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// claim takes a message for one attempt: its next attempt moves past the attempt's timeout, so that another
// process delivering the same outbox leaves it alone meanwhile. It reports false when someone else took it.
func (s *Service) claim(ctx context.Context, r outboxRow) (bool, error) {
	lease := s.now().Add(s.cfg.Client.Timeout + time.Minute).UnixMilli()
	var n int64
	err := s.write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.Exec(ctx, "UPDATE transfer_outbox SET next_at = $1 WHERE id = $2 AND next_at = $3 AND delivered_at = 0 AND gave_up_at = 0", lease, r.id, r.nextAt)
		return err
	})
	return n == 1, err
}

// deliver makes one attempt to deliver a message and records its outcome.
func (s *Service) deliver(ctx context.Context, r outboxRow) (bool, error) {
	if ok, err := s.claim(ctx, r); !ok || err != nil {
		return false, err
	}
	body, path := r.body, AcksPath
	if r.kind == "package" {
		tx, err := s.st.Driver().Begin(ctx, false)
		if err != nil {
			return false, err
		}
		body, err = s.packageIn(ctx, tx, r.transfer)
		tx.Rollback(ctx)
		if err != nil {
			return false, err
		}
		path = InboxPath
	}
	status, answer, err := s.post(ctx, r.region, path, body)
	now := s.now()
	switch {
	case err == nil && status/100 == 2:
		return true, s.delivered(ctx, r, answer, now)
	case err == nil && definitive(status):
		return false, s.refused(ctx, r, status, answer, now)
	default:
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			why = fmt.Sprintf("HTTP %d: %s", status, problemDetail(answer))
		}
		return false, s.retryLater(ctx, r, why, now)
	}
}

// definitive reports whether an answer is final: the receiver checked the message and refused it. Server
// errors, and a 404 or 405 (a wrong address), are worth trying again.
func definitive(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// post sends a message to the agency of region, at its address on the trust list.
func (s *Service) post(ctx context.Context, region, path string, body []byte) (int, []byte, error) {
	e, err := s.TrustEntry(ctx, region)
	if err != nil {
		return 0, nil, fmt.Errorf("region %s is not on the trust list", region)
	}
	if e.URL == "" {
		return 0, nil, fmt.Errorf("region %s has no address on the trust list; carry the package as a file (sirec transfer export) or add the address", region)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("X-Sirec-Origin", s.st.Region())
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, answer, err
}

// problemDetail returns the detail of a problem document, or the answer's first bytes.
func problemDetail(answer []byte) string {
	var p struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(answer, &p) == nil && (p.Detail != "" || p.Title != "") {
		if p.Detail == "" {
			return p.Title
		}
		return p.Detail
	}
	if len(answer) > 200 {
		answer = answer[:200]
	}
	return strings.TrimSpace(string(answer))
}

func (s *Service) delivered(ctx context.Context, r outboxRow, answer []byte, now time.Time) error {
	var a struct {
		Status    string `json:"status"`
		Number    string `json:"number"`
		Duplicate bool   `json:"duplicate"`
	}
	json.Unmarshal(answer, &a)
	return s.write(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE transfer_outbox SET delivered_at = $1, last_at = $1, attempts = attempts + 1, last_error = '' WHERE id = $2", now.UnixMilli(), r.id); err != nil {
			return err
		}
		t, err := getIn(ctx, tx, "id = $1", r.transfer)
		if err != nil {
			return err
		}
		actor := "agency:" + r.region
		switch r.kind {
		case "package":
			detail := fmt.Sprintf("delivered; the destination holds it as %s, %s", a.Number, a.Status)
			if a.Duplicate {
				detail += " (it had it already)"
			}
			if t.Status == StatusApproved {
				return addHistory(ctx, tx, t.ID, now, StatusSent, actor, detail)
			}
			return addHistory(ctx, tx, t.ID, now, t.Status, actor, detail)
		case "ack":
			if t.Status == StatusAccepted {
				return addHistory(ctx, tx, t.ID, now, StatusAcknowledged, actor, "the origin has the acknowledgement")
			}
		case "refusal":
			return addHistory(ctx, tx, t.ID, now, t.Status, actor, "the origin has the refusal")
		}
		return nil
	})
}

func (s *Service) refused(ctx context.Context, r outboxRow, status int, answer []byte, now time.Time) error {
	why := fmt.Sprintf("HTTP %d: %s", status, problemDetail(answer))
	return s.write(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE transfer_outbox SET gave_up_at = $1, last_at = $1, attempts = attempts + 1, last_error = $2 WHERE id = $3",
			now.UnixMilli(), why, r.id); err != nil {
			return err
		}
		t, err := getIn(ctx, tx, "id = $1", r.transfer)
		if err != nil {
			return err
		}
		if r.kind == "package" {
			return addHistory(ctx, tx, t.ID, now, StatusRefused, "agency:"+r.region, "the destination refused the package on arrival: "+why)
		}
		return addHistory(ctx, tx, t.ID, now, t.Status, "agency:"+r.region, fmt.Sprintf("the origin refused the %s: %s", r.kind, why))
	})
}

func (s *Service) retryLater(ctx context.Context, r outboxRow, why string, now time.Time) error {
	wait := s.cfg.RetryBase
	for i := 0; i < r.attempts && wait < s.cfg.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, s.cfg.RetryMax)
	s.cfg.Logger.Warn("transfer: delivery failed; will retry", "transfer", Number(r.transfer), "kind", r.kind, "region", r.region, "attempt", r.attempts+1, "in", wait, "err", why)
	return s.write(ctx, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE transfer_outbox SET attempts = attempts + 1, last_at = $1, next_at = $2, last_error = $3 WHERE id = $4",
			now.UnixMilli(), now.Add(wait).UnixMilli(), why, r.id)
		return err
	})
}

// Pending reports how many messages wait for delivery and how many were given up, for status pages.
func (s *Service) Pending(ctx context.Context) (waiting, gaveUp int, err error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfer_outbox WHERE delivered_at = 0 AND gave_up_at = 0").Scan(&waiting)
	if err == nil {
		err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfer_outbox WHERE gave_up_at > 0").Scan(&gaveUp)
	}
	if errors.Is(err, store.ErrNoRows) {
		err = nil
	}
	return waiting, gaveUp, err
}

// ErrorDetail returns what a refusal says, for answers: the message of a record.Error.
func ErrorDetail(err error) string {
	var e *record.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
