package main

import (
	"flag"
	"time"
)

// verifyFlags are serve's settings for the scheduled verification of the journal and projections (R9.2).
type verifyFlags struct {
	every time.Duration
}

func (f *verifyFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.every, "verify-every", envDuration("SIREC_VERIFY_EVERY", 24*time.Hour),
		"verify the journal and projections at this interval, the first run one interval after the start; the outcome is shown on the console's journal page; 0 disables (env SIREC_VERIFY_EVERY)")
}
