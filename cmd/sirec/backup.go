package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"sirec/internal/custody"
	"sirec/internal/keyring"
)

// runBackup takes a backup (sirec backup --to URL), or with a subcommand verifies one (backup verify URL),
// lists those at a destination (backup list --to URL) or makes the agency's backup key (backup keygen).
func runBackup(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runBackupVerify(ctx, args[1:])
		case "list":
			return runBackupList(ctx, args[1:])
		case "keygen":
			return runBackupKeygen(ctx, args[1:])
		}
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sirec backup --to URL [--recipient age1…]… [--db DSN] [--keys DIR]\n       sirec backup verify URL | backup list --to URL | backup keygen\n\nflags of backup:")
		fs.PrintDefaults()
	}
	var c dbFlags
	c.register(fs)
	to := fs.String("to", os.Getenv("SIREC_BACKUP_TO"), "destination: file:///PATH or s3://BUCKET[/PREFIX]?region=…&endpoint=… (env SIREC_BACKUP_TO)")
	var recipients stringList
	fs.Var(&recipients, "recipient", "age recipient (age1…) or a file of them to encrypt to; repeat for more (default: backup.pub in the key folder)")
	quiet := fs.Bool("quiet", false, "print no progress")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected argument %q (did you mean backup verify URL?)", fs.Arg(0))
	}
	if err := custody.CheckURL("to", *to); err != nil {
		return err
	}
	s, err := c.open(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close()
	rs, err := backupRecipients(recipients, c.Keys)
	if err != nil {
		return err
	}
	d := s.Driver()
	id, err := custody.StartRun(ctx, d, custody.RunBackup, "cli", *to, time.Now())
	if err != nil {
		return fmt.Errorf("the custody log cannot be written: %w", err)
	}
	opt := custody.BackupOptions{Keys: s.Keys(), Recipients: rs}
	if !*quiet {
		opt.Progress = func(part string, rows int64) {
			fmt.Fprintf(os.Stderr, "\rbackup: %-12s %d rows   ", part, rows)
		}
	}
	res, err := custody.Backup(ctx, d, *to, opt)
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	run := custody.Run{ID: id, URL: *to, Status: custody.StatusFailed}
	if err != nil {
		run.Summary = err.Error()
	} else {
		m := res.Manifest
		run.Status, run.URL, run.Events, run.Root, run.Bytes = custody.StatusOK, res.URL, m.Events, m.Root, m.StoredBytes()
		run.Summary = fmt.Sprintf("%d events, %d bytes stored in %s", m.Events, m.StoredBytes(), res.Took.Round(time.Millisecond))
	}
	if ferr := custody.FinishRun(context.WithoutCancel(ctx), d, run, time.Now()); ferr != nil {
		fmt.Fprintln(os.Stderr, "sirec: warning: the outcome was not recorded in the custody log:", ferr)
	}
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Printf("backup %s: %d events, root %s, taken in %s\n", m.Name, m.Events, m.Root, res.Took.Round(time.Millisecond))
	for _, p := range m.Parts {
		var rows int64
		for _, t := range p.Tables {
			rows += t.Rows
		}
		fmt.Printf("  %-12s %3d tables %10d rows %12d bytes → %10d stored  sha256 %s\n", p.Name, len(p.Tables), rows, p.Plain, p.Stored, p.SHA256)
	}
	fmt.Printf("encrypted to %s\n", strings.Join(m.Recipients, ", "))
	fmt.Println(res.URL)
	return nil
}

// backupRecipients returns the recipients given, or the key folder's backup.pub.
func backupRecipients(given []string, keysDir string) ([]age.Recipient, error) {
	if len(given) == 0 {
		p := filepath.Join(keysDir, keyring.BackupRecipientFile)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("no recipient to encrypt to: run `sirec backup keygen --keys %s` to make the agency's backup key, or pass --recipient age1…", keysDir)
		}
		given = []string{p}
	}
	rs, err := keyring.ParseBackupRecipients(given)
	if err == nil && len(rs) == 0 {
		err = errors.New("no recipient to encrypt to")
	}
	return rs, err
}

// keyFlags are the flags of the commands that need keys but no database.
func keyFlags(fs *flag.FlagSet) (keys, identity *string) {
	keys = fs.String("keys", envOr("SIREC_KEYS", filepath.Join("data", "keys")), "key folder holding checkpoint.pub (env SIREC_KEYS)")
	identity = fs.String("identity", os.Getenv("SIREC_BACKUP_IDENTITY"), "age identity file that decrypts the backup (env SIREC_BACKUP_IDENTITY; default: backup.key in the key folder)")
	return keys, identity
}

func loadIdentities(path, keysDir string) ([]age.Identity, error) {
	if path == "" {
		path = filepath.Join(keysDir, keyring.BackupIdentityFile)
	}
	return keyring.LoadBackupIdentities(path)
}

// runBackupVerify restores a backup into a scratch database and proves it; it prints the report and exits 0
// only when every check passes.
func runBackupVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup verify", flag.ContinueOnError)
	keys, identity := keyFlags(fs)
	scratch := fs.String("scratch", "", "folder for the scratch database (default: the system's temporary folder)")
	quiet := fs.Bool("quiet", false, "print no progress")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "usage: sirec backup verify URL [--keys DIR] [--identity FILE]")
		return &exitError{code: 2}
	}
	v, err := keyring.LoadVerifier(*keys)
	if err != nil {
		return fmt.Errorf("verifier key in %s: %w", *keys, err)
	}
	ids, err := loadIdentities(*identity, *keys)
	if err != nil {
		return err
	}
	rep, err := custody.Verify(ctx, pos[0], custody.VerifyOptions{Verifier: v, Identities: ids, ScratchDir: *scratch, Progress: stageProgress(*quiet)})
	if !*quiet {
		fmt.Fprintln(os.Stderr)
	}
	fmt.Print(rep.Text())
	if err != nil {
		return &exitError{code: 1}
	}
	return nil
}

// stageProgress prints a job's progress on one terminal line.
func stageProgress(quiet bool) func(stage string, done, total int64) {
	if quiet {
		return nil
	}
	var last time.Time
	return func(stage string, done, total int64) {
		if time.Since(last) < 200*time.Millisecond && done != total {
			return
		}
		last = time.Now()
		if total > 0 {
			fmt.Fprintf(os.Stderr, "\r%-16s %d / %d        ", stage, done, total)
		} else {
			fmt.Fprintf(os.Stderr, "\r%-16s %d        ", stage, done)
		}
	}
}

func runBackupList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup list", flag.ContinueOnError)
	to := fs.String("to", os.Getenv("SIREC_BACKUP_TO"), "destination URL (env SIREC_BACKUP_TO)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	list, err := custody.ListBackups(ctx, *to, "")
	if err != nil {
		return err
	}
	for _, b := range list {
		fmt.Println(b.URL)
	}
	fmt.Fprintf(os.Stderr, "%d backups at %s\n", len(list), *to)
	return nil
}

// runBackupKeygen makes the agency's backup key: an age identity (backup.key, 0600) and its recipient
// (backup.pub) in the key folder.
func runBackupKeygen(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("backup keygen", flag.ContinueOnError)
	keys := fs.String("keys", envOr("SIREC_KEYS", filepath.Join("data", "keys")), "folder to write backup.key and backup.pub in (env SIREC_KEYS)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	id, err := keyring.CreateBackupIdentity(*keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sirec: created the backup identity %s — keep copies of it off site and apart from the backups: without it no backup can be read\n",
		filepath.Join(*keys, keyring.BackupIdentityFile))
	fmt.Println(id.Recipient().String())
	return nil
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseInterspersed parses flags that may come before or after the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
