package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"sirec/internal/pdf"
	"sirec/internal/statement"
)

// fontFlags name the TrueType fonts of printed documents (statements, certificates). Flags override the
// environment (SIREC_FONT_CJK, SIREC_FONT_LATIN); empty means Debian's fonts-droid-fallback and fonts-dejavu-core.
type fontFlags struct {
	CJK, Latin string
}

func (f *fontFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.CJK, "font-cjk", os.Getenv("SIREC_FONT_CJK"), "TrueType CJK font for printed documents (env SIREC_FONT_CJK; default "+pdf.DefaultCJKFont+", Debian fonts-droid-fallback)")
	fs.StringVar(&f.Latin, "font-latin", os.Getenv("SIREC_FONT_LATIN"), "TrueType Latin font for digits and letters (env SIREC_FONT_LATIN; default "+pdf.DefaultLatinFont+", Debian fonts-dejavu-core)")
}

// runStatements issues the yearly personal rights statements (权益记录单) of a year to every person, as one job:
// progress on stderr, and with --out each statement also as a PDF file under DIR/<year>/ with index.csv. Its
// last line is "statements year=Y run=N persons=P issued=I".
func runStatements(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("statements", flag.ContinueOnError)
	var c dbFlags
	c.register(fs)
	var ff fontFlags
	ff.register(fs)
	year := fs.Int("year", time.Now().Year()-1, "the year the statements are for (a year that is over)")
	out := fs.String("out", "", "also write each statement as PDF into DIR/<year>/ (with index.csv)")
	perFile := fs.Int("per-file", 1, "statements per PDF file with --out: 1 for one file a person, up to 1000 for print runs (much faster: the fonts are embedded once a file)")
	workers := fs.Int("workers", 0, "statements made in parallel (0: one per CPU)")
	reissue := fs.Bool("reissue", false, "issue a new version to persons who hold a statement of the year already")
	actor := fs.String("actor", envOr("USER", "operator"), "who runs the job, as recorded with the run")
	quiet := fs.Bool("quiet", false, "print no progress")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	svc := statement.New(s, &pdf.FontSource{CJK: ff.CJK, Latin: ff.Latin})
	start := time.Now()
	var progress func(done, total int64)
	if !*quiet {
		var last time.Time
		progress = func(done, total int64) {
			if done != total && time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			rate := float64(done) / max(time.Since(start).Seconds(), 0.001)
			fmt.Fprintf(os.Stderr, "\rstatements %d: %d / %d persons (%.0f/s)   ", *year, done, total, rate)
		}
	}
	run, err := svc.Run(ctx, statement.RunOptions{Year: *year, OutDir: *out, PerFile: *perFile, Workers: *workers, Reissue: *reissue, Actor: *actor, Progress: progress})
	if progress != nil {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		if run.ID != 0 {
			return fmt.Errorf("statement run %d failed after %d of %d persons (run the year again to go on): %w", run.ID, run.Done, run.Persons, err)
		}
		return err
	}
	fmt.Printf("statements year=%d run=%d persons=%d issued=%d seconds=%.1f\n", run.Year, run.ID, run.Persons, run.Issued, time.Since(start).Seconds())
	return nil
}
