// Package queryuse wires together what insured persons, employers and other bodies get from the records, and the
// control over who sees what (Q1–Q7, R4.2): yearly statements, certificates with their public check page,
// objections, proxy authorisations and other bodies' applications, the tamper-evident query log and the
// supervisors' statistics. The API and the web pages take one *Services.
package queryuse

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"sirec/internal/access"
	"sirec/internal/certificate"
	"sirec/internal/objection"
	"sirec/internal/pdf"
	"sirec/internal/querylog"
	"sirec/internal/review"
	"sirec/internal/statement"
	"sirec/internal/store"
)

// Options configure the services.
type Options struct {
	// FontCJK and FontLatin are the TrueType fonts of printed documents; empty means Debian's (pdf package).
	FontCJK, FontLatin string
	// PublicURL is the agency's public address (https://si.example.gov.cn) that certificates' QR codes point at;
	// empty means the address the request that issues a certificate came to.
	PublicURL string
	// Location is the agency's time zone; nil means time.Local.
	Location *time.Location
	// CheckBurst checks of the public check page per client at once, then one per CheckEvery (defaults 20 and 3s).
	CheckBurst int
	CheckEvery time.Duration
}

// Services are the query-and-use services of one store.
type Services struct {
	Store        *store.Store
	Review       *review.Service
	Fonts        *pdf.FontSource
	Statements   *statement.Service
	Certificates *certificate.Service
	Objections   *objection.Service
	Access       *access.Service
	Limiter      *certificate.Limiter
	PublicURL    string
	Location     *time.Location
	// Now is the clock of everything here; tests replace it with SetClock.
	Now func() time.Time
}

// New returns the services of a store.
func New(st *store.Store, rv *review.Service, o Options) *Services {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.CheckBurst == 0 {
		o.CheckBurst = 20
	}
	if o.CheckEvery == 0 {
		o.CheckEvery = 3 * time.Second
	}
	if rv == nil {
		rv = review.New(st)
	}
	fonts := &pdf.FontSource{CJK: o.FontCJK, Latin: o.FontLatin}
	s := &Services{Store: st, Review: rv, Fonts: fonts, Statements: statement.New(st, fonts), Certificates: certificate.New(st, fonts),
		Objections: objection.NewService(st, rv), Access: access.New(st), Limiter: certificate.NewLimiter(o.CheckBurst, o.CheckEvery),
		PublicURL: strings.TrimRight(o.PublicURL, "/"), Location: o.Location}
	s.SetClock(time.Now)
	return s
}

// SetClock sets the clock of every service.
func (s *Services) SetClock(now func() time.Time) {
	s.Now = now
	s.Statements.Now, s.Certificates.Now, s.Objections.Now, s.Access.Now = now, now, now, now
	s.Statements.Location, s.Certificates.Location, s.Objections.Location, s.Access.Location = s.Location, s.Location, s.Location, s.Location
}

var defaults sync.Map // *store.Store → *Services

// For returns the services of st with the default options, made once per store: for an API or web handler
// given no services of its own (tests), so that the check page's limiter and the fonts are shared.
func For(st *store.Store, rv *review.Service) *Services {
	if s, ok := defaults.Load(st); ok {
		return s.(*Services)
	}
	s, _ := defaults.LoadOrStore(st, New(st, rv, Options{}))
	return s.(*Services)
}

// Base returns the public address certificates point at: PublicURL, or else the scheme and host a request
// came to.
func (s *Services) Base(scheme, host string) string {
	if s.PublicURL != "" {
		return s.PublicURL
	}
	return scheme + "://" + host
}

// SealEvery signs the query log's head every interval until ctx ends, and once more at the end: rows are then
// protected by a signature within one interval of being written (see internal/querylog).
func (s *Services) SealEvery(ctx context.Context, every time.Duration, logger *slog.Logger) {
	seal := func(ctx context.Context) {
		seal, wrote, err := querylog.SealNow(ctx, s.Store.Driver(), s.Store.Keys(), s.Now())
		if err != nil {
			logger.Error("query log seal", "err", err)
			return
		}
		if wrote {
			logger.Info("query log sealed", "rows", seal.Size, "head", seal.Head)
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			seal(fctx)
			cancel()
			return
		case <-t.C:
			seal(ctx)
		}
	}
}
