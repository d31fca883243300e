package access

import (
	"context"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Original materials — a written authorisation, an application with the body's credentials, an objection's
// evidence — are stored once by SHA-256 with the review materials (review.Service.AddMaterial) and linked to
// what they belong to here, by an owner name such as "proxy:P000003" (R13).

// AttachMaterials links stored materials to owner in tx. field names the input for errors.
func AttachMaterials(ctx context.Context, tx store.Tx, field, owner string, ms []review.Material, by string, now time.Time) error {
	for i, m := range ms {
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM review_materials WHERE sha256 = $1", m.SHA256).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return record.Invalid(field, "material_stored", "material %d (%s) is not stored; upload it first", i+1, m.SHA256)
		}
		name := strings.TrimSpace(m.Name)
		if name == "" {
			return record.Invalid(field, "material_name", "each material needs a name, e.g. 授权委托书.pdf")
		}
		ct := m.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if _, err := tx.Exec(ctx, "INSERT INTO use_materials (owner, sha256, name, content_type, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6)",
			owner, m.SHA256, name, ct, by, now.UnixMilli()); err != nil {
			return err
		}
	}
	return nil
}

// Materials lists the materials linked to owner, oldest first.
func Materials(ctx context.Context, tx store.Tx, owner string) ([]review.Material, error) {
	rows, err := tx.Query(ctx, `SELECT u.sha256, u.name, u.content_type, m.size, u.added_by, u.added_at FROM use_materials u
		JOIN review_materials m ON m.sha256 = u.sha256 WHERE u.owner = $1 ORDER BY u.added_at, u.name`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []review.Material{}
	for rows.Next() {
		var m review.Material
		var at int64
		if err := rows.Scan(&m.SHA256, &m.Name, &m.ContentType, &m.Size, &m.AddedBy, &at); err != nil {
			return nil, err
		}
		m.AddedAt = time.UnixMilli(at).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// HasMaterial reports whether sha is linked to owner: a material is served only through what it belongs to.
func HasMaterial(ctx context.Context, d store.Driver, owner, sha string) (bool, error) {
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var n int
	err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM use_materials WHERE owner = $1 AND sha256 = $2", owner, sha).Scan(&n)
	return n > 0, err
}
