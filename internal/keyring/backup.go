package keyring

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
)

// Backups are encrypted with age (X25519) to one or more recipients; only the holder of a matching identity can
// read them. The identity is kept like the other secret keys (0600, in the key folder or on separate media);
// the recipient is public.
const (
	BackupIdentityFile  = "backup.key" // age identity, AGE-SECRET-KEY-1…
	BackupRecipientFile = "backup.pub" // its recipient, age1…
)

// CreateBackupIdentity makes a new age identity in dir (backup.key, 0600) and writes its recipient beside it
// (backup.pub). It refuses to overwrite an existing identity: backups made for it could no longer be read.
func CreateBackupIdentity(dir string) (*age.X25519Identity, error) {
	p := filepath.Join(dir, BackupIdentityFile)
	if _, err := os.Stat(p); err == nil {
		return nil, fmt.Errorf("%s already exists; refusing to overwrite it (backups made for it could no longer be read)", p)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	text := "# sirec backup identity: reads every backup encrypted to " + id.Recipient().String() + "\n" + id.String() + "\n"
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, BackupRecipientFile), []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		return nil, err
	}
	return id, nil
}

// LoadBackupIdentities reads the age identities in the file at path. A file readable by others is refused, as
// for the other secret keys.
func LoadBackupIdentities(path string) ([]age.Identity, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("backup identity: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %v; secret key files must be 0600", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ids, nil
}

// ParseBackupRecipients parses recipients given as text: age1… strings, or the path of a file holding them
// one a line (lines starting with # are comments). An identity file is read for the recipients of its
// identities.
func ParseBackupRecipients(specs []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "age1") {
			r, err := age.ParseX25519Recipient(s)
			if err != nil {
				return nil, fmt.Errorf("recipient %q: %w", s, err)
			}
			out = append(out, r)
			continue
		}
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %q is neither an age1… recipient nor a readable file: %w", s, err)
		}
		if strings.Contains(string(b), "AGE-SECRET-KEY-") {
			ids, err := LoadBackupIdentities(s)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				x, ok := id.(*age.X25519Identity)
				if !ok {
					return nil, fmt.Errorf("%s: only X25519 identities are supported", s)
				}
				out = append(out, x.Recipient())
			}
			continue
		}
		rs, err := age.ParseRecipients(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// RecipientString returns the text of an age recipient, "" for a kind without one.
func RecipientString(r age.Recipient) string {
	if s, ok := r.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}
