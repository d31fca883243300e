package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sirec/internal/journal"
	"sirec/internal/record"
)

// Schema step 12: the history of a person's registration (登记信息变更记录, R2.1).
//
// person_changes holds one row per person.changed event: what it changed to — the name, the status and date of
// death, whether the phone number changed (not the number), a corrected ID number sealed as in persons (I7)
// with the date of birth and sex it gives — and the reason. persons keeps only the latest values; this is how
// they came to be. A database upgraded to this step is filled from its journal in the same transaction, so
// that the projection agrees with a replay (verify) from the first moment.
var _ = addMigration(12, `CREATE TABLE person_changes (
		seq        BIGINT PRIMARY KEY,
		person     TEXT NOT NULL,
		at         BIGINT NOT NULL,
		name       TEXT NOT NULL,
		phone      INTEGER NOT NULL,
		status     TEXT NOT NULL,
		death_date TEXT NOT NULL,
		id_sealed  {BLOB},
		birth      TEXT NOT NULL,
		sex        TEXT NOT NULL,
		reason     TEXT NOT NULL
	);
	CREATE INDEX person_changes_person ON person_changes (person, seq)`)

var _ = addMigrationFunc(12, backfillPersonChanges)

var _ = func() bool {
	ProjectionTables = append(ProjectionTables, struct{ Name, Key string }{"person_changes", "seq"})
	return true
}()

var colsPersonChanges = []string{"seq", "person", "at", "name", "phone", "status", "death_date", "id_sealed", "birth", "sex", "reason"}

// personChangeRow is the person_changes row of a person.changed event.
func personChangeRow(e *journal.Event, f *record.PersonChanged) []any {
	var sealed any // NULL unless the ID number was corrected
	if len(f.IDSealed) > 0 {
		sealed = f.IDSealed
	}
	var phone int64
	if f.Phone != "" {
		phone = 1
	}
	return []any{e.Seq, e.Person, e.At.UnixMilli(), f.Name, phone, f.Status, f.DeathDate, sealed, f.Birth, f.Sex, f.Reason}
}

// backfillPersonChanges fills person_changes from the journal's person.changed events, in tx.
func backfillPersonChanges(ctx context.Context, tx Tx) error {
	q := "INSERT INTO person_changes (" + strings.Join(colsPersonChanges, ", ") + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	return eachEvent(ctx, tx, func(e *journal.Event) error {
		if e.Type != record.TypePersonChanged {
			return nil
		}
		var f record.PersonChanged
		if err := json.Unmarshal(e.Data, &f); err != nil {
			return fmt.Errorf("event %d (%s): data does not decode: %w", e.Seq, e.Type, err)
		}
		_, err := tx.Exec(ctx, q, personChangeRow(e, &f)...)
		return err
	}, nil)
}

// PersonChangeView is one change of a person's registration, as the record shows it.
type PersonChangeView struct {
	Seq          int64     `json:"seq"`
	At           time.Time `json:"at"`
	Name         string    `json:"name,omitempty"`
	PhoneChanged bool      `json:"phone_changed,omitempty"`
	Status       string    `json:"status,omitempty"`
	DeathDate    string    `json:"death_date,omitempty"`
	// IDMasked is the corrected ID number, masked; Birth and Sex are what it gives.
	IDMasked string `json:"id_number_masked,omitempty"`
	Birth    string `json:"birth,omitempty"`
	Sex      string `json:"sex,omitempty"`
	Reason   string `json:"reason"`
}

// changeQueries read a person's registration changes into v, oldest first, in the record's batch; sealed
// collects the corrected ID numbers to open once the batch is read.
func changeQueries(v *PersonView, sealed map[int][]byte) []BatchQuery {
	return []BatchQuery{{SQL: "SELECT seq, at, name, phone, status, death_date, id_sealed, birth, sex, reason FROM person_changes WHERE person = $1 ORDER BY seq",
		Args: []any{v.Person}, Row: func(r Rows) error {
			var x PersonChangeView
			var at, phone int64
			var id []byte
			if err := r.Scan(&x.Seq, &at, &x.Name, &phone, &x.Status, &x.DeathDate, &id, &x.Birth, &x.Sex, &x.Reason); err != nil {
				return err
			}
			x.At, x.PhoneChanged = time.UnixMilli(at).UTC(), phone == 1
			if len(id) > 0 {
				sealed[len(v.Changes)] = id
			}
			v.Changes = append(v.Changes, x)
			return nil
		}}}
}
