package auth

import (
	"fmt"
	"time"

	"sirec/internal/record"
)

// Config holds the authentication settings.
type Config struct {
	MaxFailures      int           // consecutive failed sign-ins that lock an account
	LockoutDuration  time.Duration // how long a locked account stays locked
	IdleTimeout      time.Duration // a session ends after this long without use
	SessionLifetime  time.Duration // a session ends this long after sign-in, used or not
	MaxTokenLifetime time.Duration // the longest an API token may be valid
	Argon2           Argon2Params  // password hashing cost; tests use a cheap setting
	// Location is the agency's time zone, in which confidentiality agreements' dates are civil dates; nil means
	// time.Local.
	Location *time.Location
}

// DefaultConfig returns the production settings: 5 failures lock an account for 15 minutes; sessions end
// after 30 idle minutes and at the latest 12 hours after sign-in; API tokens live at most a year.
func DefaultConfig() Config {
	return Config{
		MaxFailures:      5,
		LockoutDuration:  15 * time.Minute,
		IdleTimeout:      30 * time.Minute,
		SessionLifetime:  12 * time.Hour,
		MaxTokenLifetime: 366 * 24 * time.Hour,
		Argon2:           DefaultArgon2,
	}
}

// Validate checks the settings, naming the bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxFailures < 1 || c.MaxFailures > 100:
		return record.Invalid("max_failures", "range", "must be between 1 and 100, not %d", c.MaxFailures)
	case c.LockoutDuration < time.Minute:
		return record.Invalid("lockout_duration", "min", "must be at least a minute, not %s", c.LockoutDuration)
	case c.IdleTimeout < time.Minute:
		return record.Invalid("idle_timeout", "min", "must be at least a minute, not %s", c.IdleTimeout)
	case c.SessionLifetime < c.IdleTimeout:
		return record.Invalid("session_lifetime", "min", "must be at least the idle timeout (%s), not %s", c.IdleTimeout, c.SessionLifetime)
	case c.MaxTokenLifetime < time.Hour:
		return record.Invalid("max_token_lifetime", "min", "must be at least an hour, not %s", c.MaxTokenLifetime)
	}
	return c.Argon2.Validate()
}

// humanDuration writes d in the largest whole unit: "12 hours", "30 minutes", "366 days".
func humanDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if d >= u.d && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}
