package custody_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"

	"sirec/internal/custody"
	"sirec/internal/store/storetest"
)

// s3Endpoint returns the S3-compatible server scripts/test.sh starts on 127.0.0.1 (moto), with dummy
// credentials in the environment. The test skips without one, unless CI=true, where that is a failure.
func s3Endpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("SIREC_TEST_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SIREC_TEST_S3_ENDPOINT is not set: an S3-compatible server is required in CI (run the tests through scripts/test.sh)")
		}
		t.Skip("SIREC_TEST_S3_ENDPOINT is not set; run scripts/test.sh to test the S3 path")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "sirec-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sirec-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never look for instance credentials off this machine
	return ep
}

// newBucket creates a bucket on the test server (moto takes an unsigned PUT) and returns its URL with a prefix.
func newBucket(t *testing.T, endpoint, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("sirec-test-%d", time.Now().UnixNano())
	req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(endpoint, "/")+"/"+name, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create bucket %s: %s", name, resp.Status)
	}
	q := url.Values{"endpoint": {endpoint}, "region": {"us-east-1"}, "use_path_style": {"true"}}
	return "s3://" + name + "/" + prefix + "?" + q.Encode()
}

func TestS3BackupVerifyRestorePrune(t *testing.T) {
	endpoint := s3Endpoint(t)
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		dest := newBucket(t, endpoint, "agency/nightly")
		res := backup(t, f, dest, id.Recipient())
		u, _ := url.Parse(res.URL)
		if u.Scheme != "s3" || !strings.HasPrefix(u.Path, "/agency/nightly/sirec-110105-") || u.Query().Get("endpoint") != endpoint {
			t.Fatalf("backup URL %s", res.URL)
		}
		rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
		if err != nil {
			t.Fatalf("verify from S3: %v\n%s", err, rep.Text())
		}
		target := storetest.New(t, env.Engine)
		target.Keys = env.Keys
		if rep, err := custody.Restore(ctx, res.URL, target.Driver(), custody.RestoreOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}}); err != nil {
			t.Fatalf("restore from S3: %v\n%s", err, rep.Text())
		}
		if got, want := records(t, target.Store(), f.persons), records(t, f.s, f.persons); got != want {
			t.Fatal("records restored from S3 differ")
		}

		// Scheduled backups keep the newest --backup-keep and remove the rest; drills read the newest.
		sch := &custody.Scheduler{Store: f.s, Logger: discardLogger(), Schedule: custody.Schedule{To: dest, Every: time.Hour, Keep: 2,
			Recipients: []age.Recipient{id.Recipient()}, DrillEvery: time.Hour, Identities: []age.Identity{id}}}
		for i := 0; i < 2; i++ {
			if run, err := sch.BackupNow(ctx, "test"); err != nil || run.Status != custody.StatusOK {
				t.Fatalf("scheduled backup: %+v %v", run, err)
			}
		}
		list, err := custody.ListBackups(ctx, dest, "")
		if err != nil || len(list) != 2 || list[0].URL == res.URL {
			t.Fatalf("after keeping 2: %v %v", list, err)
		}
		run, err := sch.DrillNow(ctx, "test")
		if err != nil || run.Status != custody.StatusOK || run.URL != list[1].URL || !strings.Contains(run.Report, "ok events=") {
			t.Fatalf("drill: %+v %v", run, err)
		}

		// A part removed from the bucket is named.
		b, err := blob.OpenBucket(ctx, "s3://"+u.Host+"?"+url.Values{"endpoint": {endpoint}, "region": {"us-east-1"}, "use_path_style": {"true"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		last := strings.TrimPrefix(mustParse(t, list[1].URL).Path, "/")
		if err := b.Delete(ctx, last+"/projections.part.zst.age"); err != nil {
			t.Fatal(err)
		}
		_, err = custody.Verify(ctx, list[1].URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
		if !errors.Is(err, custody.ErrMissingPart) || !strings.Contains(err.Error(), "projections") {
			t.Fatalf("missing part on S3: %v", err)
		}
	})
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
