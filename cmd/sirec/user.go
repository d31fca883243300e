package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
)

const userUsage = `usage: sirec user COMMAND [flags]

  add USERNAME --name NAME [--post P,P…] [--external [--agreement FILE --signed DATE --expires DATE]] [--password-file FILE]
                               add a user; the password comes from the file or stdin. An outside helper
                               (--external) without a confidentiality agreement is created disabled (R11.2)
  grant USERNAME POST…         give posts (S1: administrators hold no business or query post)
  revoke USERNAME POST…        take posts away
  disable USERNAME             withdraw access at once: sessions end, API tokens are revoked (S2)
  enable USERNAME              let a disabled or locked-out user sign in again (an outside helper only with a
                               confidentiality agreement in force)
  external USERNAME yes|no     mark a user as an outside helper, or as the agency's own staff
  agreement add USERNAME --file FILE --signed YYYY-MM-DD --expires YYYY-MM-DD
                               file a signed confidentiality agreement; the document is kept by SHA-256
  agreement list USERNAME      list a user's confidentiality agreements
  passwd USERNAME [--password-file FILE]
                               set a password (ends the user's sessions)
  list [--offset N] [--limit N]
                               list users
  posts                        list the posts and the scopes they give
  token create USERNAME --name NAME --scopes S,S… [--expires 90d|DATE]
                               create an API token for a machine client (shown once)
  token list USERNAME          list a user's API tokens
  token revoke ID              revoke an API token

Every command takes --db and --keys, and --actor (who is acting, for the authentication log).
Passwords are never given as flag values.`

// runUser manages users, their posts and API tokens: sirec user add|grant|revoke|disable|enable|passwd|list|
// posts|token. Every change is written to the authentication log with the acting operator's name.
func runUser(ctx context.Context, args []string) error {
	return userCommand(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// userCommand is runUser with its streams, for tests.
func userCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, userUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	u := &userCLI{stdin: stdin, stdout: stdout, stderr: stderr}
	name, args := args[0], args[1:]
	switch name {
	case "add":
		return u.add(ctx, args)
	case "grant":
		return u.grantOrRevoke(ctx, "grant", args)
	case "revoke":
		return u.grantOrRevoke(ctx, "revoke", args)
	case "disable":
		return u.disableOrEnable(ctx, "disable", args)
	case "enable":
		return u.disableOrEnable(ctx, "enable", args)
	case "passwd":
		return u.passwd(ctx, args)
	case "external":
		return u.external(ctx, args)
	case "agreement":
		return u.agreement(ctx, args)
	case "list":
		return u.list(ctx, args)
	case "posts":
		return u.posts(args)
	case "token":
		if len(args) == 0 {
			return &exitError{code: 2, err: errors.New("usage: sirec user token create|list|revoke …")}
		}
		switch args[0] {
		case "create":
			return u.tokenCreate(ctx, args[1:])
		case "list":
			return u.tokenList(ctx, args[1:])
		case "revoke":
			return u.tokenRevoke(ctx, args[1:])
		}
		return &exitError{code: 2, err: fmt.Errorf("unknown command user token %q: use create, list or revoke", args[0])}
	}
	return &exitError{code: 2, err: fmt.Errorf("unknown command user %q\n\n%s", name, userUsage)}
}

type userCLI struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	db    dbFlags
	actor string
}

// flags returns a flag set with the shared flags of every user command.
func (u *userCLI) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("user "+name, flag.ContinueOnError)
	fs.SetOutput(u.stderr)
	u.db.register(fs)
	fs.StringVar(&u.actor, "actor", defaultActor(), "who is acting, as written to the authentication log")
	return fs
}

// defaultActor names the operator at the console: "cli:" and the operating-system user.
func defaultActor() string {
	name := os.Getenv("USER")
	if cur, err := user.Current(); err == nil && cur.Username != "" {
		name = cur.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// parse parses flags that may come before, between or after the positional arguments, and checks their count.
func (u *userCLI) parse(fs *flag.FlagSet, args []string, min, max int, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0}
			}
			return nil, &exitError{code: 2}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		return nil, &exitError{code: 2, err: errors.New("usage: sirec user " + usage)}
	}
	return pos, nil
}

// service opens the database and the authentication service on it; close closes the database.
func (u *userCLI) service(ctx context.Context) (svc *auth.Service, close func(), err error) {
	s, err := u.db.open(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	return auth.New(s.Driver(), auth.DefaultConfig()), func() { s.Close() }, nil
}

func (u *userCLI) add(ctx context.Context, args []string) error {
	fs := u.flags("add")
	display := fs.String("name", "", "display name, e.g. 王芳 (required)")
	postList := fs.String("post", "", "posts, comma-separated (see: sirec user posts)")
	external := fs.Bool("external", false, "an outsider such as a contractor's engineer (R11.2)")
	agreementFile := fs.String("agreement", "", "an outside helper's signed confidentiality agreement (a file), with --signed and --expires")
	signed := fs.String("signed", "", "the agreement's signing date, YYYY-MM-DD")
	expires := fs.String("expires", "", "the agreement's last valid day, YYYY-MM-DD")
	pwFile := fs.String("password-file", "", "read the password from this file instead of stdin")
	pos, err := u.parse(fs, args, 1, 1, "add USERNAME --name NAME [--post P,P…] [--external [--agreement FILE --signed DATE --expires DATE]] [--password-file FILE]")
	if err != nil {
		return err
	}
	posts, err := parsePosts(*postList)
	if err != nil {
		return err
	}
	// Check what can be checked before asking for the password.
	if err := auth.ValidateUsername(pos[0]); err != nil {
		return err
	}
	if strings.TrimSpace(*display) == "" {
		return record.Invalid("display_name", "required", "give the user's name with --name")
	}
	if err := auth.ValidatePosts(posts); err != nil {
		return err
	}
	password, err := u.readPassword(ctx, *pwFile)
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	nu := auth.NewUser{Username: pos[0], DisplayName: *display, Password: password, Posts: posts, External: *external}
	if *agreementFile != "" {
		probe := auth.AgreementSpec{SHA256: strings.Repeat("0", 64), Name: *agreementFile, SignedOn: *signed, ExpiresOn: *expires}
		if err := probe.Validate(svc.Today(time.Now())); err != nil {
			return record.WithField("agreement", err)
		}
		if nu.Agreement, err = u.storeDocument(ctx, *agreementFile, *signed, *expires); err != nil {
			return err
		}
	}
	usr, err := svc.AddUser(ctx, nu, u.actor, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "added user %s (%s) · 已添加用户 %s（%s）\n", usr.Username, usr.DisplayName, usr.Username, usr.DisplayName)
	for _, p := range usr.Posts {
		fmt.Fprintf(u.stdout, "  post 岗位: %s\n", p.Label())
	}
	if usr.External {
		fmt.Fprintln(u.stdout, "  external 外部人员: yes 是")
		if usr.Disabled {
			fmt.Fprintf(u.stdout, "  disabled until a confidentiality agreement is on file (R11.2) · 登记保密协议前账号停用: sirec user agreement add %s --file … --signed … --expires …, then sirec user enable %s\n", usr.Username, usr.Username)
		} else {
			fmt.Fprintf(u.stdout, "  confidentiality agreement 保密协议 valid until 有效期至 %s\n", usr.AgreementExpires)
		}
	}
	return nil
}

func parsePosts(s string) ([]auth.Post, error) {
	var posts []auth.Post
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := auth.ParsePost("post", f)
		if err != nil {
			return nil, err
		}
		posts = append(posts, p)
	}
	return posts, nil
}

func (u *userCLI) grantOrRevoke(ctx context.Context, verb string, args []string) error {
	fs := u.flags(verb)
	pos, err := u.parse(fs, args, 2, -1, verb+" USERNAME POST…")
	if err != nil {
		return err
	}
	var posts []auth.Post
	for _, a := range pos[1:] {
		p, err := parsePosts(a)
		if err != nil {
			return err
		}
		posts = append(posts, p...)
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	for _, p := range posts {
		if verb == "grant" {
			err = svc.Grant(ctx, pos[0], p, u.actor, time.Now())
		} else {
			err = svc.Revoke(ctx, pos[0], p, u.actor, time.Now())
		}
		if err != nil {
			return err
		}
		if verb == "grant" {
			fmt.Fprintf(u.stdout, "granted %s to %s · 已授予 %s 岗位：%s\n", p.Label(), pos[0], pos[0], p.Label())
		} else {
			fmt.Fprintf(u.stdout, "revoked %s from %s · 已撤销 %s 岗位：%s\n", p.Label(), pos[0], pos[0], p.Label())
		}
	}
	return nil
}

func (u *userCLI) disableOrEnable(ctx context.Context, verb string, args []string) error {
	fs := u.flags(verb)
	pos, err := u.parse(fs, args, 1, 1, verb+" USERNAME")
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if verb == "disable" {
		if err := svc.Disable(ctx, pos[0], u.actor, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "disabled %s: sessions ended, API tokens revoked · 已停用 %s：会话已结束，API 令牌已吊销\n", pos[0], pos[0])
		return nil
	}
	if err := svc.Enable(ctx, pos[0], u.actor, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "enabled %s · 已启用 %s\n", pos[0], pos[0])
	return nil
}

func (u *userCLI) passwd(ctx context.Context, args []string) error {
	fs := u.flags("passwd")
	pwFile := fs.String("password-file", "", "read the password from this file instead of stdin")
	pos, err := u.parse(fs, args, 1, 1, "passwd USERNAME [--password-file FILE]")
	if err != nil {
		return err
	}
	password, err := u.readPassword(ctx, *pwFile)
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := svc.SetPassword(ctx, pos[0], password, u.actor, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "password set for %s; their sessions have ended · 已为 %s 设置密码，其会话已结束\n", pos[0], pos[0])
	return nil
}

func (u *userCLI) list(ctx context.Context, args []string) error {
	fs := u.flags("list")
	offset := fs.Int("offset", 0, "skip this many users")
	limit := fs.Int("limit", 100, fmt.Sprintf("list at most this many users (at most %d)", auth.MaxPage))
	if _, err := u.parse(fs, args, 0, 0, "list [--offset N] [--limit N]"); err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	users, total, err := svc.ListUsers(ctx, *offset, *limit)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := [][]string{{"USERNAME 用户名", "NAME 姓名", "POSTS 岗位", "STATUS 状态", "CREATED 创建"}}
	for _, usr := range users {
		posts := make([]string, len(usr.Posts))
		for i, p := range usr.Posts {
			info, _ := p.Info()
			posts[i] = string(p) + " " + info.Chinese
		}
		status := "active 正常"
		switch {
		case usr.Disabled:
			status = "disabled 已停用"
		case usr.LockedUntil.After(now):
			status = "locked until 锁定至 " + usr.LockedUntil.Local().Format("2006-01-02 15:04")
		}
		if usr.External {
			status += ", external 外部"
			if usr.AgreementExpires != "" {
				status += ", agreement until 协议至 " + usr.AgreementExpires
			} else {
				status += ", no agreement 无保密协议"
			}
		}
		if len(posts) == 0 {
			posts = []string{"-"}
		}
		rows = append(rows, []string{usr.Username, usr.DisplayName, strings.Join(posts, ", "), status, usr.CreatedAt.Local().Format("2006-01-02")})
	}
	writeTable(u.stdout, "", rows)
	if len(users) == 0 {
		fmt.Fprintf(u.stdout, "no users here (%d in all) · 此处无用户（共 %d 个）\n", total, total)
		return nil
	}
	fmt.Fprintf(u.stdout, "users %d–%d of %d · 第 %d–%d 个，共 %d 个用户\n",
		*offset+1, *offset+len(users), total, *offset+1, *offset+len(users), total)
	return nil
}

func (u *userCLI) posts(args []string) error {
	fs := flag.NewFlagSet("user posts", flag.ContinueOnError)
	fs.SetOutput(u.stderr)
	if _, err := u.parse(fs, args, 0, 0, "posts"); err != nil {
		return err
	}
	rows := [][]string{{"POST 岗位", "中文", "ENGLISH", "KIND 类别", "SCOPES 权限范围"}}
	for _, p := range auth.Posts {
		rows = append(rows, []string{string(p.Post), p.Chinese, p.English, string(p.Kind), joinScopes(p.Scopes)})
	}
	writeTable(u.stdout, "", rows)
	fmt.Fprintln(u.stdout, "\nsysadmin and dbadmin may not be combined with business or query posts (S1) · 系统管理员、数据库管理员不得兼任业务或查询岗位")
	fmt.Fprintln(u.stdout, "\nscopes 权限范围:")
	rows = nil
	for _, s := range auth.Scopes {
		rows = append(rows, []string{string(s.Scope), s.Allows})
	}
	writeTable(u.stdout, "  ", rows)
	return nil
}

func (u *userCLI) tokenCreate(ctx context.Context, args []string) error {
	fs := u.flags("token create")
	name := fs.String("name", "", "what the token is for, e.g. \"bank feed\" (required)")
	scopeList := fs.String("scopes", "", "scopes, comma-separated (see: sirec user posts)")
	expires := fs.String("expires", "90d", "validity: a number of days (90d), a duration (12h) or a date (2026-12-31)")
	pos, err := u.parse(fs, args, 1, 1, "token create USERNAME --name NAME --scopes S,S… [--expires 90d|DATE]")
	if err != nil {
		return err
	}
	scopes, err := auth.ParseScopes(*scopeList)
	if err != nil {
		return err
	}
	now := time.Now()
	until, err := parseExpiry(*expires, now)
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	secret, t, err := svc.CreateToken(ctx, auth.TokenSpec{Username: pos[0], Name: *name, Scopes: scopes, ExpiresAt: until}, u.actor, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "API token created for %s · 已为 %s 创建 API 令牌\n", t.Username, t.Username)
	fmt.Fprintf(u.stdout, "  id 编号:       %s\n", t.ID)
	fmt.Fprintf(u.stdout, "  name 名称:     %s\n", t.Name)
	fmt.Fprintf(u.stdout, "  scopes 范围:   %s\n", joinScopes(t.Scopes))
	fmt.Fprintf(u.stdout, "  expires 到期:  %s\n", t.ExpiresAt.Local().Format("2006-01-02 15:04 MST"))
	fmt.Fprintln(u.stdout, "the token is shown only now: store it safely · 令牌仅显示这一次，请妥善保存:")
	fmt.Fprintln(u.stdout, secret)
	return nil
}

func joinScopes(scopes []auth.Scope) string {
	s := make([]string, len(scopes))
	for i, sc := range scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, " ")
}

// parseExpiry reads "90d", a Go duration such as "12h", or a date (the token expires at its start, local time).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: give days (90d), a duration (12h) or a date (2026-12-31)", s)
}

func (u *userCLI) tokenList(ctx context.Context, args []string) error {
	fs := u.flags("token list")
	pos, err := u.parse(fs, args, 1, 1, "token list USERNAME")
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	tokens, err := svc.ListTokens(ctx, pos[0])
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		fmt.Fprintf(u.stdout, "%s has no API tokens · %s 没有 API 令牌\n", pos[0], pos[0])
		return nil
	}
	now := time.Now()
	rows := [][]string{{"ID 编号", "NAME 名称", "SCOPES 范围", "STATUS 状态", "EXPIRES 到期", "CREATED BY 创建人"}}
	for _, t := range tokens {
		status := "valid 有效"
		switch {
		case !t.RevokedAt.IsZero():
			status = "revoked 已吊销"
		case !t.ExpiresAt.After(now):
			status = "expired 已过期"
		}
		rows = append(rows, []string{t.ID, t.Name, joinScopes(t.Scopes), status, t.ExpiresAt.Local().Format("2006-01-02 15:04"), t.CreatedBy})
	}
	writeTable(u.stdout, "", rows)
	return nil
}

func (u *userCLI) tokenRevoke(ctx context.Context, args []string) error {
	fs := u.flags("token revoke")
	pos, err := u.parse(fs, args, 1, 1, "token revoke ID")
	if err != nil {
		return err
	}
	svc, closeDB, err := u.service(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := svc.RevokeToken(ctx, pos[0], u.actor, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "API token %s revoked · API 令牌 %s 已吊销\n", pos[0], pos[0])
	return nil
}

// readPassword reads a password as the user commands do (from file, else stdin), for other commands such as
// init that create a user.
func readPassword(ctx context.Context, file string) (string, error) {
	u := &userCLI{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	return u.readPassword(ctx, file)
}

// readPassword reads a password from file or, without one, from stdin: on a terminal it prompts twice with echo
// off; otherwise it takes the first line. A trailing newline is not part of the password.
func (u *userCLI) readPassword(ctx context.Context, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", file)
		}
		return pw, nil
	}
	in := bufio.NewReader(u.stdin)
	f, tty := u.stdin.(*os.File)
	if tty {
		st, err := f.Stat()
		tty = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	if !tty {
		pw, err := readLine(ctx, in)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		if pw == "" {
			return "", errors.New("no password on stdin: give it on stdin or with --password-file")
		}
		return pw, nil
	}
	// Turn echo off while the password is typed; stty is on every system sirec supports.
	if err := stty(f, "-echo"); err != nil {
		fmt.Fprintln(u.stderr, "warning: cannot turn off echo; the password will be visible · 警告：无法关闭回显，输入的密码将可见")
	} else {
		defer stty(f, "echo")
	}
	fmt.Fprintf(u.stderr, "password (at least %d characters, letters and digits) · 密码（至少 %d 位，含字母和数字）: ", auth.MinPasswordLength, auth.MinPasswordLength)
	pw, err := readLine(ctx, in)
	fmt.Fprintln(u.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(u.stderr, "again · 再次输入: ")
	again, err := readLine(ctx, in)
	fmt.Fprintln(u.stderr)
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ · 两次输入的密码不一致")
	}
	return pw, nil
}

// readLine reads one line without its line ending, giving up when ctx ends (Ctrl-C at a prompt).
func readLine(ctx context.Context, r *bufio.Reader) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && s != "" {
			err = nil
		}
		ch <- result{strings.TrimRight(s, "\r\n"), err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func stty(tty *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = tty
	return cmd.Run()
}

// writeTable writes rows as aligned columns, each line starting with indent. Unlike text/tabwriter it counts
// Chinese characters as two columns wide, as terminals show them.
func writeTable(w io.Writer, indent string, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// displayWidth is the number of terminal columns s takes: East Asian wide characters take two.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0xA4CF, r >= 0xAC00 && r <= 0xD7A3,
			r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F, r >= 0xFF00 && r <= 0xFF60, r >= 0xFFE0 && r <= 0xFFE6:
			n += 2
		default:
			n++
		}
	}
	return n
}
