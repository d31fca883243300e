package store

import (
	"context"
	"errors"
	"strings"

	"sirec/internal/record"
)

// PersonListItem is a person as search results list them: the ID number masked (I7).
type PersonListItem struct {
	Person       string `json:"person"`
	Name         string `json:"name"`
	IDMasked     string `json:"id_number_masked"`
	Sex          string `json:"sex"`
	Region       string `json:"region"`
	RegisteredOn string `json:"registered_on"`
	Status       string `json:"status"`
}

// FindPersonsByName lists the persons registered under exactly this name (found through the name index), in
// registration order: limit of them after skipping offset, and how many there are.
func (s *Store) FindPersonsByName(ctx context.Context, name string, offset, limit int) ([]PersonListItem, int64, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, 0, err
	}
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n == 0 || n > 50 {
		return nil, 0, record.Invalid("name", "name_length", "name must be 1 to 50 characters")
	}
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM persons WHERE name = $1", name).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT person, name, id_sealed, sex, region, registered_on, status FROM persons WHERE name = $1
		ORDER BY seq LIMIT $2 OFFSET $3`, name, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []PersonListItem{}
	for rows.Next() {
		var p PersonListItem
		var sealed []byte
		if err := rows.Scan(&p.Person, &p.Name, &sealed, &p.Sex, &p.Region, &p.RegisteredOn, &p.Status); err != nil {
			return nil, 0, err
		}
		id, err := s.keys.OpenID(sealed)
		if err != nil {
			return nil, 0, err
		}
		p.IDMasked = record.MaskID(id)
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// PersonIDNumber returns a registered person's citizen ID number in clear, for a form that must carry it (a
// correction of an event about the person). It never goes to a URL or a log.
func (s *Store) PersonIDNumber(ctx context.Context, person string) (string, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	var sealed []byte
	err = tx.QueryRow(ctx, "SELECT id_sealed FROM persons WHERE person = $1", person).Scan(&sealed)
	if errors.Is(err, ErrNoRows) {
		return "", record.Errorf(record.ENotFound, "person %s is not registered", person)
	}
	if err != nil {
		return "", err
	}
	return s.keys.OpenID(sealed)
}
