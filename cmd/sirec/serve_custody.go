package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"sirec/internal/custody"
	"sirec/internal/keyring"
	"sirec/internal/store"
)

// custodyFlags are serve's flags for scheduled backups and restore drills (R9.2, R9.3).
type custodyFlags struct {
	to         string
	every      time.Duration
	keep       int
	recipients stringList
	identity   string
	drillEvery time.Duration
	scratch    string
}

func (f *custodyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.to, "backup-to", os.Getenv("SIREC_BACKUP_TO"), "take scheduled backups to file:///PATH or s3://BUCKET[/PREFIX]?… (env SIREC_BACKUP_TO; none when empty)")
	fs.DurationVar(&f.every, "backup-every", envDuration("SIREC_BACKUP_EVERY", 24*time.Hour), "time between scheduled backups (env SIREC_BACKUP_EVERY)")
	fs.IntVar(&f.keep, "backup-keep", 14, "backups kept at the destination; older ones are removed after each good backup")
	fs.Var(&f.recipients, "backup-recipient", "age recipient (age1…) or file of them to encrypt backups to; repeat for more (default: backup.pub in the key folder)")
	fs.StringVar(&f.identity, "backup-identity", os.Getenv("SIREC_BACKUP_IDENTITY"), "age identity file restore drills decrypt with (env SIREC_BACKUP_IDENTITY; default: backup.key in the key folder)")
	fs.DurationVar(&f.drillEvery, "drill-every", envDuration("SIREC_DRILL_EVERY", 7*24*time.Hour), "time between restore drills of the newest backup; 0 for none (env SIREC_DRILL_EVERY)")
	fs.StringVar(&f.scratch, "drill-scratch", "", "folder for the drills' scratch database (default: the system's temporary folder)")
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// scheduler returns the custody scheduler the flags ask for, or nil when --backup-to is not given.
func (f *custodyFlags) scheduler(s *store.Store, keysDir string, logger *slog.Logger) (*custody.Scheduler, error) {
	if f.to == "" {
		return nil, nil
	}
	sched := custody.Schedule{To: f.to, Every: f.every, Keep: f.keep, DrillEvery: f.drillEvery, ScratchDir: f.scratch}
	rs, err := backupRecipients(f.recipients, keysDir)
	if err != nil {
		return nil, fmt.Errorf("--backup-recipient: %w", err)
	}
	sched.Recipients = rs
	if f.drillEvery > 0 {
		path := f.identity
		if path == "" {
			path = filepath.Join(keysDir, keyring.BackupIdentityFile)
		}
		ids, err := keyring.LoadBackupIdentities(path)
		if err != nil {
			return nil, fmt.Errorf("--backup-identity: restore drills need the identity that decrypts the backups (%w); pass --backup-identity FILE, or --drill-every 0 to run no drills", err)
		}
		sched.Identities = ids
	}
	if err := sched.Validate(); err != nil {
		return nil, err
	}
	return &custody.Scheduler{Store: s, Schedule: sched, Logger: logger}, nil
}
