package check

import (
	"context"
	"log/slog"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
)

// DefaultEvery is how often serve runs the checks unless told otherwise: once a day.
const DefaultEvery = 24 * time.Hour

// Scheduler runs inside serve: every Every it runs all the checks (R9.2 "regular tests"), filing their findings as
// work items, and on every tick it disables outside helpers whose confidentiality agreement has ended (R11.2).
type Scheduler struct {
	Runner *Runner
	Users  *auth.Service // nil: no agreement sweep
	// Every is the interval between runs, counted from the start of the latest run of any trigger; 0 runs no
	// checks on a schedule (the agreement sweep still runs).
	Every time.Duration
	// Tick is how often the scheduler wakes; 0 means a minute.
	Tick time.Duration
	// Delay is how long after start the first tick comes; 0 means a minute, so that a service starting up is
	// not slowed by a run at once.
	Delay  time.Duration
	Logger *slog.Logger
}

// Run runs until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	tick, delay := s.Tick, s.Delay
	if tick <= 0 {
		tick = time.Minute
	}
	if delay <= 0 {
		delay = time.Minute
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if s.Every > 0 {
		logger.Info("scheduled checks", "every", s.Every.String())
	} else {
		logger.Info("scheduled checks are off (--check-every 0)")
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Runner.Wait()
			return
		case <-t.C:
		}
		s.Once(ctx, logger)
		t.Reset(tick)
	}
}

// Once does one tick's work: the agreement sweep, then a run of the checks if one is due.
func (s *Scheduler) Once(ctx context.Context, logger *slog.Logger) {
	now := s.Runner.now()
	if s.Users != nil {
		names, err := s.Users.ExpireAgreements(ctx, now)
		if err != nil && ctx.Err() == nil {
			logger.Error("confidentiality agreement sweep", "err", err)
		}
		for _, n := range names {
			logger.Warn("outside helper disabled: no confidentiality agreement in force (R11.2)", "user", n)
		}
	}
	if s.Every <= 0 {
		return
	}
	last, ok, err := s.Runner.Last(ctx)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("scheduled checks", "err", err)
		}
		return
	}
	if ok && now.Sub(last.StartedAt) < s.Every {
		return
	}
	if _, err := s.Runner.Start(ctx, Trigger{Kind: TriggerSchedule, By: "scheduler"}, nil); err != nil {
		if record.ErrorCode(err) == record.EConflict {
			logger.Info("scheduled checks wait", "reason", err.Error())
			return
		}
		logger.Error("scheduled checks", "err", err)
	}
}
