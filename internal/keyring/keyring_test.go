package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateLoadAndProtect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := Load(dir); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("empty folder: %v", err)
	}
	k, err := Create(dir, "sirec.agency/110105")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{SigningKeyFile, VerifierKeyFile, PIIKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st.Mode(), err)
		}
	}
	if _, err := Create(dir, "sirec.agency/110105"); err == nil {
		t.Fatal("existing keys overwritten")
	}
	k2, err := Load(dir)
	if err != nil || k2.Origin != "sirec.agency/110105" || k2.IndexID("x") != k.IndexID("x") {
		t.Fatalf("reload: %v", err)
	}
	v, err := LoadVerifier(dir)
	if err != nil || v.Name() != k.Origin {
		t.Fatalf("verifier: %v", err)
	}
	os.Chmod(filepath.Join(dir, PIIKeyFile), 0o644)
	if _, err := Load(dir); err == nil {
		t.Fatal("a key file readable by others was accepted")
	}
}

func TestSealedIDs(t *testing.T) {
	k, err := Create(filepath.Join(t.TempDir(), "keys"), "sirec.agency/110105")
	if err != nil {
		t.Fatal(err)
	}
	id := "11010519491231002X"
	a, b := k.SealID(id), k.SealID(id)
	if !bytes.Equal(a, b) || bytes.Contains(a, []byte(id)) {
		t.Fatal("sealing is not deterministic, or leaks the number")
	}
	got, err := k.OpenID(a)
	if err != nil || got != id {
		t.Fatalf("open: %q %v", got, err)
	}
	a[len(a)-1] ^= 1
	if _, err := k.OpenID(a); err == nil {
		t.Fatal("a changed ciphertext opened")
	}
	if k.IndexID(id) == k.IndexID("110105194912310021") || len(k.IndexID(id)) != 32 {
		t.Fatal("index")
	}
	other, _ := Create(filepath.Join(t.TempDir(), "keys"), "sirec.agency/110105")
	if other.IndexID(id) == k.IndexID(id) {
		t.Fatal("the index does not depend on the key")
	}
	s := k.Seal([]byte("payload"), "draft")
	if p, err := k.Open(s, "draft"); err != nil || string(p) != "payload" {
		t.Fatal(err)
	}
	if _, err := k.Open(s, "other-use"); err == nil {
		t.Fatal("opened under another label")
	}
}
