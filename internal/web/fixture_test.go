package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/demo"
	"sirec/internal/review"
	"sirec/internal/rules"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

const (
	staffPassword  = "Secret-pass-42"
	portalPassword = "Portal-pass-42"
	demoPersons    = 12
	demoSeed       = 1
)

var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is the whole site (web and API, as serve mounts them) on 127.0.0.1 over a real store with a small
// demo dataset, one staff user per post (named after the post) and the demo portal accounts.
type fixture struct {
	srv      *httptest.Server
	st       *store.Store
	accounts *web.Accounts
	log      *syncBuffer
	person0  string // person key of demo person 0, who has the demo person account
	employer string // credit code of the demo employer account
	ids      []string
}

func newFixture(t *testing.T, engine string, tls bool) *fixture {
	t.Helper()
	return newFixtureTLS(t, storetest.New(t, engine), tls)
}

func newFixtureOn(t *testing.T, env *storetest.Env, options ...func(*web.Config)) *fixture {
	t.Helper()
	return newFixtureTLS(t, env, false, options...)
}

// newFixtureTLS makes the fixture; options change the web configuration (a clock, a verification schedule).
func newFixtureTLS(t *testing.T, env *storetest.Env, tls bool, options ...func(*web.Config)) *fixture {
	t.Helper()
	// Background work (verifications) stops with the test.
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	st := env.Store()
	if _, err := demo.Generate(ctx, st, demo.Options{Persons: demoPersons, Seed: demoSeed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	users := auth.New(st.Driver(), cfg)
	for _, info := range auth.Posts {
		name := string(info.Post)
		var err error
		if info.Post == auth.PostSysadmin {
			_, err = users.AddFirstSysadmin(ctx, name, info.Chinese, staffPassword, "test", time.Now())
		} else {
			_, err = users.AddUser(ctx, auth.NewUser{Username: name, DisplayName: info.Chinese, Password: staffPassword, Posts: []auth.Post{info.Post}}, "test", time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := web.CreateDemoAccounts(ctx, st, cfg, demoSeed, portalPassword, io.Discard); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, log: &syncBuffer{}, accounts: web.NewAccounts(st.Driver(), cfg)}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	rv := review.New(st)
	apiHandler := (&api.Server{Store: st, Auth: users, Review: rv, Logger: logger,
		Calc: func(name string, in []byte) ([]byte, error) { return rules.Calc(st.Book(), name, in) }}).Handler()
	wcfg := web.Config{Store: st, Auth: users, Review: rv, Accounts: f.accounts, Logger: logger, Context: ctx}
	for _, o := range options {
		o(&wcfg)
	}
	h := web.Mount(wcfg, apiHandler)
	if tls {
		f.srv = httptest.NewTLSServer(h)
	} else {
		f.srv = httptest.NewServer(h)
	}
	t.Cleanup(f.srv.Close)
	for i := range demoPersons {
		f.ids = append(f.ids, demo.IDNumber(demoSeed, i))
	}
	acc, err := f.accounts.Get(ctx, web.DemoPersonAccount)
	if err != nil {
		t.Fatal(err)
	}
	f.person0 = acc.Subject
	acc, err = f.accounts.Get(ctx, web.DemoEmployerAccount)
	if err != nil {
		t.Fatal(err)
	}
	f.employer = acc.Subject
	return f
}

// key returns the person key of demo person i.
func (f *fixture) key(t *testing.T, i int) string {
	t.Helper()
	k, err := f.st.FindPerson(context.Background(), f.ids[i])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// employs reports whether the demo employer has an enrolment of demo person i.
func (f *fixture) employs(t *testing.T, i int) bool {
	t.Helper()
	v, err := f.st.PersonRecord(context.Background(), f.key(t, i))
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(v.Enrolments, func(e store.EnrolmentView) bool { return e.Employer == f.employer })
}

// client is a browser-like HTTP client: it keeps cookies, follows redirects and remembers every URL it visited.
type client struct {
	t    *testing.T
	f    *fixture
	c    *http.Client
	urls []string
	last string // the last page's body
}

func (f *fixture) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, f: f}
	hc := f.srv.Client()
	c.c = &http.Client{Transport: hc.Transport, Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		c.urls = append(c.urls, req.URL.String())
		return nil
	}}
	return c
}

type result struct {
	status int
	body   string
	resp   *http.Response
}

func (c *client) do(req *http.Request) result {
	c.t.Helper()
	c.urls = append(c.urls, req.URL.String())
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.last = string(b)
	return result{resp.StatusCode, string(b), resp}
}

func (c *client) get(path string) result {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the last page shown.
func (c *client) csrf() string {
	c.t.Helper()
	m := csrfRE.FindStringSubmatch(c.last)
	if m == nil {
		c.t.Fatalf("no CSRF token on the page:\n%s", c.last)
	}
	return m[1]
}

// post sends a form as it is, without adding a token.
func (c *client) post(path string, form url.Values) result {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// submit sends a form with the CSRF token of the last page.
func (c *client) submit(path string, form url.Values) result {
	c.t.Helper()
	form.Set("csrf", c.csrf())
	return c.post(path, form)
}

// submitFiles sends a multipart form with files (field → name → content) and the last page's CSRF token.
func (c *client) submitFiles(path string, form url.Values, files map[string]map[string][]byte) result {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", c.csrf())
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for field, fs := range files {
		for name, content := range fs {
			w, _ := mw.CreateFormFile(field, name)
			w.Write(content)
		}
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// login signs in on the console or the portal and fails the test unless it lands on the area's start page.
func (c *client) login(area, user, password string) {
	c.t.Helper()
	c.get("/" + area + "/login")
	r := c.submit("/"+area+"/login", url.Values{"username": {user}, "password": {password}})
	if r.status != 200 || r.resp.Request.URL.Path != "/"+area+"/" {
		c.t.Fatalf("login %s as %s: %d at %s\n%s", area, user, r.status, r.resp.Request.URL.Path, r.body)
	}
}
