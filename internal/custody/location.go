package custody

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:///PATH: a mounted off-site volume
	_ "gocloud.dev/blob/s3blob"   // s3://BUCKET?endpoint=…: any S3-compatible object store
	"gocloud.dev/gcerrors"

	"sirec/internal/record"
)

// Destinations and backups are URLs:
//
//	file:///mnt/offsite                                   a folder (a mounted off-site volume)
//	s3://bucket?region=…&endpoint=…&use_path_style=true   an S3-compatible bucket (credentials from the environment)
//	s3://bucket/some/prefix?…                             a key prefix inside a bucket
//
// A backup is a "folder" under its destination named sirec-<region>-<time>-<size>, and its URL is the
// destination's with that name added to the path, so that it can be handed to verify and restore as it is.

// CheckURL checks that raw is a destination or backup URL sirec can use; field names the flag for errors.
func CheckURL(field, raw string) error {
	_, err := parseLocation(field, raw)
	return err
}

type location struct {
	u *url.URL
}

func parseLocation(field, raw string) (location, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return location{}, record.Invalid(field, "backup_url", "%q is not a URL: use file:///PATH or s3://BUCKET?region=…", raw)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !strings.HasPrefix(u.Path, "/") {
			return location{}, record.Invalid(field, "backup_url", "%q: a file URL needs an absolute path, e.g. file:///mnt/offsite/sirec", raw)
		}
	case "s3":
		if u.Host == "" {
			return location{}, record.Invalid(field, "backup_url", "%q: an s3 URL names its bucket, e.g. s3://sirec-backups?region=cn-north-1", raw)
		}
	default:
		return location{}, record.Invalid(field, "backup_url", "%q: the scheme must be file or s3 (file:///PATH, s3://BUCKET?…)", raw)
	}
	return location{u: u}, nil
}

// child returns the location of name inside l.
func (l location) child(name string) location {
	u := *l.u
	u.Path = path.Join("/", u.Path, name)
	u.RawPath = ""
	return location{u: &u}
}

// base returns the last element of the location's path.
func (l location) base() string { return path.Base(l.u.Path) }

func (l location) String() string { return l.u.String() }

// open opens the location as a bucket whose keys are relative to it. With create, a missing folder is made.
func (l location) open(ctx context.Context, create bool) (*blob.Bucket, error) {
	q := l.u.Query()
	var raw string
	switch l.u.Scheme {
	case "file":
		if create {
			if err := os.MkdirAll(l.u.Path, 0o700); err != nil {
				return nil, err
			}
		} else if st, err := os.Stat(l.u.Path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a folder", ErrNoBackup, l.u.Path)
		}
		// No sidecar files of metadata beside the objects: a backup folder holds its manifest and parts only.
		q.Set("metadata", "skip")
		raw = "file://" + (&url.URL{Path: l.u.Path}).EscapedPath() + "?" + q.Encode()
	case "s3":
		if p := strings.Trim(l.u.Path, "/"); p != "" {
			q.Set("prefix", p+"/")
		}
		raw = "s3://" + l.u.Host + "?" + q.Encode()
	}
	b, err := blob.OpenBucket(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", l, err)
	}
	return b, nil
}

// sync makes a backup in a folder durable: its files and the folder itself are flushed to the disk before the
// backup is reported taken (an object store's PUT is durable when it returns).
func (l location) sync() error {
	if l.u.Scheme != "file" {
		return nil
	}
	entries, err := os.ReadDir(l.u.Path)
	if err != nil {
		return err
	}
	for _, e := range append(entries, nil) {
		p := l.u.Path
		if e != nil {
			if !e.Type().IsRegular() {
				continue
			}
			p = path.Join(p, e.Name())
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrNoBackup is returned when a URL holds no backup.
var ErrNoBackup = errors.New("no backup here")

func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// BackupInfo is one backup found at a destination.
type BackupInfo struct {
	Name string
	URL  string
}

// ListBackups lists the complete backups (those with a manifest) at a destination, oldest first (their names
// sort by time). prefix, when not empty, keeps only names starting with it.
func ListBackups(ctx context.Context, dest, prefix string) ([]BackupInfo, error) {
	l, err := parseLocation("to", dest)
	if err != nil {
		return nil, err
	}
	if l.u.Scheme == "file" {
		if _, err := os.Stat(l.u.Path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	b, err := l.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	it := b.List(&blob.ListOptions{Delimiter: "/", Prefix: prefix})
	var names []string
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dest, err)
		}
		if !o.IsDir || !strings.HasPrefix(o.Key, "sirec-") {
			continue
		}
		name := strings.TrimSuffix(o.Key, "/")
		ok, err := b.Exists(ctx, name+"/"+manifestObject)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]BackupInfo, len(names))
	for i, n := range names {
		out[i] = BackupInfo{Name: n, URL: l.child(n).String()}
	}
	return out, nil
}

// deleteAll deletes every object under the location (a backup), for pruning and for cleaning up after a backup
// that failed half way.
func deleteAll(ctx context.Context, l location) error {
	b, err := l.open(ctx, false)
	if err != nil {
		if errors.Is(err, ErrNoBackup) {
			return nil
		}
		return err
	}
	defer b.Close()
	it := b.List(nil)
	var keys []string
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !o.IsDir {
			keys = append(keys, o.Key)
		}
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil && !isNotFound(err) {
			return err
		}
	}
	if l.u.Scheme == "file" {
		// The folder itself, now empty.
		os.Remove(l.u.Path)
	}
	return nil
}
