package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// checkFlags are serve's flags for the scheduled data checks (R9.2) and the outside helpers' agreement sweep
// (R11.2).
type checkFlags struct {
	every time.Duration
	env   string // SIREC_CHECK_EVERY as given, to report a bad value
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	f.every = check.DefaultEvery
	if v := os.Getenv("SIREC_CHECK_EVERY"); v != "" {
		f.env = v
		if d, err := time.ParseDuration(v); err == nil {
			f.every = d
		}
	}
	fs.DurationVar(&f.every, "check-every", f.every, "run every data check at this interval and file the findings as work items, e.g. 24h; 0 turns the schedule off (env SIREC_CHECK_EVERY)")
}

// Validate checks the interval: 0 (off) or at least a minute.
func (f *checkFlags) Validate() error {
	if f.env != "" {
		if _, err := time.ParseDuration(f.env); err != nil {
			return record.Invalid("check_every", "duration", "SIREC_CHECK_EVERY=%q is not a duration such as 24h", f.env)
		}
	}
	if f.every < 0 || f.every > 0 && f.every < time.Minute {
		return record.Invalid("check_every", "check_interval", "--check-every must be 0 (off) or at least 1m, not %s", f.every)
	}
	return nil
}

// start returns the check runner serve shares between its scheduler, the console and the API, and starts the
// scheduler, which runs until ctx ends.
func (f *checkFlags) start(ctx context.Context, s *store.Store, users *auth.Service, logger *slog.Logger) *check.Runner {
	r := &check.Runner{Store: s, Items: workitem.New(s, users), Logger: logger, Base: ctx}
	sched := &check.Scheduler{Runner: r, Users: users, Every: f.every, Logger: logger}
	go sched.Run(ctx)
	if f.every > 0 {
		fmt.Fprintf(os.Stderr, "sirec: data checks run every %s; outside helpers' agreements are checked every minute\n", f.every)
	}
	return r
}
