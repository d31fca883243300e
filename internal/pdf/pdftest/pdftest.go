// Package pdftest helps tests read back the text of the PDF documents sirec makes: it runs pdftotext (Debian's
// poppler-utils, which scripts/test.sh installs) and loads the fonts, skipping the test when either is missing —
// or failing it when CI=true, where both are required.
package pdftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sirec/internal/pdf"
)

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Fonts loads the default fonts, or skips (fails in CI) when they are not installed.
func Fonts(t testing.TB) *pdf.Fonts {
	t.Helper()
	f, err := pdf.LoadFonts("", "")
	if err != nil {
		unavailable(t, "%v (scripts/test.sh installs the fonts)", err)
	}
	return f
}

// Text returns the text pdftotext extracts from doc with every space and line break taken out: where the fonts
// change (between Chinese and digits) pdftotext may or may not put a space, so tests look for text without
// spaces.
func Text(t testing.TB, doc []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		unavailable(t, "pdftotext not found: install Debian's poppler-utils (scripts/test.sh does)")
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), "")
}
