package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the calc tests")

// TestCalcGolden runs `sirec calc NAME` on every case in testdata/calc: input.json on stdin, the output and
// exit code compared with the golden stdout (or stderr for an error) — the calculator's output is a contract.
// The cases include the reference's worked examples (pension C and D, the 2024 account example by both
// methods, the retirement examples).
func TestCalcGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/calc/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			name, _ := os.ReadFile(filepath.Join(dir, "name"))
			input, _ := os.ReadFile(filepath.Join(dir, "input.json"))
			out, errOut, code := run(t, string(input), "calc", strings.TrimSpace(string(name)))
			got := out
			golden := filepath.Join(dir, "stdout")
			if strings.HasPrefix(filepath.Base(dir), "error-") {
				if code != 1 || out != "" {
					t.Fatalf("want exit 1 and no output, got %d %q", code, out)
				}
				got, golden = errOut, filepath.Join(dir, "stderr")
			} else if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("output\n got %s\nwant %s", got, want)
			}
		})
	}
}
