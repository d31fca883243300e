package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store/storetest"
)

func TestUserCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		db := []string{"--db", env.DSN, "--keys", env.KeysDir, "--actor", "cli:tester"}
		user := func(stdin string, args ...string) (string, error) {
			t.Helper()
			var out, errb bytes.Buffer
			err := userCommand(ctx, append(args, db...), strings.NewReader(stdin), &out, &errb)
			return out.String(), err
		}
		must := func(stdin string, args ...string) string {
			t.Helper()
			out, err := user(stdin, args...)
			if err != nil {
				t.Fatalf("user %v: %v", args, err)
			}
			return out
		}

		pwFile := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pwFile, []byte("first admin 2026\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := must("", "add", "admin1", "--name", "系统管理员甲", "--post", "sysadmin", "--password-file", pwFile)
		if !strings.Contains(out, "added user admin1 (系统管理员甲)") || !strings.Contains(out, "sysadmin 系统管理员 / System administrator") {
			t.Fatalf("add output:\n%s", out)
		}
		must("clerk pass 123\n", "add", "--name", "王芳", "clerk1", "--post", "collector,reviewer")

		// S1 from the command line: refused, naming both posts.
		_, err := user("", "grant", "admin1", "collector")
		if record.ErrorCode(err) != record.EConflict || !strings.Contains(err.Error(), "separation_of_duties") ||
			!strings.Contains(err.Error(), "collector") || !strings.Contains(err.Error(), "sysadmin") {
			t.Fatalf("grant collector to a sysadmin: %v", err)
		}
		if _, err := user("", "add", "mixed", "--name", "M", "--post", "dbadmin,query"); record.ErrorCode(err) != record.EConflict {
			t.Fatalf("add dbadmin+query: %v", err)
		}
		// The password policy, and no password at all.
		if _, err := user("short1\n", "add", "weak1", "--name", "W"); !strings.Contains(err.Error(), "min_length") {
			t.Fatalf("weak password: %v", err)
		}
		if _, err := user("", "add", "nopw1", "--name", "N"); err == nil {
			t.Fatal("a user without a password was added")
		}

		out = must("", "grant", "clerk1", "approver", "maintainer")
		if strings.Count(out, "granted") != 2 {
			t.Fatalf("grant output:\n%s", out)
		}
		must("", "revoke", "clerk1", "approver")
		out = must("", "list")
		for _, want := range []string{"admin1", "clerk1", "collector 采集经办, reviewer 审核, maintainer 数据维护", "active 正常", "users 1–2 of 2"} {
			if !strings.Contains(out, want) {
				t.Fatalf("list output lacks %q:\n%s", want, out)
			}
		}
		out = must("", "list", "--offset", "1", "--limit", "1")
		if strings.Contains(out, "admin1") || !strings.Contains(out, "users 2–2 of 2") {
			t.Fatalf("second page:\n%s", out)
		}

		out = must("", "token", "create", "clerk1", "--name", "scanner", "--scopes", "drafts:write,persons:read", "--expires", "30d")
		tok := regexp.MustCompile(`(?m)^sirec_[a-z2-7]{52}$`).FindString(out)
		if tok == "" || !strings.Contains(out, "drafts:write persons:read") {
			t.Fatalf("token output:\n%s", out)
		}
		if _, err := user("", "token", "create", "clerk1", "--name", "x", "--scopes", "users:admin"); !strings.Contains(err.Error(), "within_posts") {
			t.Fatalf("token beyond the posts: %v", err)
		}
		out = must("", "token", "list", "clerk1")
		if !strings.Contains(out, "scanner") || !strings.Contains(out, "valid 有效") {
			t.Fatalf("token list:\n%s", out)
		}

		// The token works until the user is disabled.
		svc := auth.New(env.Driver(), auth.DefaultConfig())
		if _, err := svc.Authenticate(ctx, tok, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Login(ctx, "clerk1", "clerk pass 123", time.Now()); err != nil {
			t.Fatal(err)
		}
		must("", "disable", "clerk1")
		if _, err := svc.Authenticate(ctx, tok, time.Now()); record.ErrorCode(err) != record.EUnauthorized {
			t.Fatalf("token after disable: %v", err)
		}
		if out := must("", "token", "list", "clerk1"); !strings.Contains(out, "revoked 已吊销") {
			t.Fatalf("token list after disable:\n%s", out)
		}
		if out := must("", "list"); !strings.Contains(out, "disabled 已停用") {
			t.Fatalf("list after disable:\n%s", out)
		}
		must("", "enable", "clerk1")
		must("clerk pass 456\n", "passwd", "clerk1")
		if _, err := svc.Login(ctx, "clerk1", "clerk pass 456", time.Now()); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}

		// Everything above is in the log, with the CLI's actor.
		entries, _, err := svc.Log(ctx, auth.LogFilter{Actor: "cli:tester"}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		want := "password_set user_enable user_disable token_create post_revoke post_grant post_grant user_add user_add"
		if got := strings.Join(actions, " "); got != want {
			t.Fatalf("logged actions\n%s\nwant\n%s", got, want)
		}

		// Usage errors exit 2.
		for _, args := range [][]string{{"frobnicate"}, {"grant", "clerk1"}, {"token"}, {"add"}} {
			_, err := user("", args...)
			if ee, ok := err.(*exitError); !ok || ee.code != 2 {
				t.Errorf("user %v: %v; want exit 2", args, err)
			}
		}
	})
}

func TestUserPosts(t *testing.T) {
	var out, errb bytes.Buffer
	if err := userCommand(context.Background(), []string{"posts"}, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"initial_reviewer  初审", "dbadmin", "drafts:write", "(S1)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("posts output lacks %q:\n%s", want, out.String())
		}
	}
}
