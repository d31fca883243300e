package web

import (
	"net"
	"net/http"

	"sirec/internal/certificate"
)

// The public check page of certificates (Q2): no sign-in. Given a verification code (typed in, or from the QR
// code's address) it shows what the certificate asserts when the code is genuine and the certificate current,
// and nothing else; the check proves the certificate's lines against the signed journal. Checks are limited per
// client address (R6.2).

func (s *server) verifyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /verify/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, certificate.CheckPath, http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+certificate.CheckPath, s.checkCertificate)
	mux.HandleFunc("POST /verify/lang", s.setLang("verify"))
	mux.HandleFunc("/verify/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, "verify", http.StatusNotFound, "err.not_found")
	})
}

type checkData struct {
	Checked bool
	Result  certificate.Result
}

func (s *server) checkCertificate(w http.ResponseWriter, r *http.Request) {
	v := s.newView(w, r, "verify", "qu.verify.title")
	code := r.URL.Query().Get("code")
	v.Form["code"] = code
	if code == "" {
		v.Data = checkData{}
		s.render(w, r, http.StatusOK, "qu_verify", v)
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !s.qu().Limiter.Allow(host, s.cfg.Now()) {
		w.Header().Set("Retry-After", "10")
		s.fail(w, r, "verify", http.StatusTooManyRequests, "qu.verify.too_many")
		return
	}
	res, err := s.qu().Certificates.Check(r.Context(), code)
	if err != nil {
		s.failErr(w, r, "verify", err)
		return
	}
	v.Data = checkData{Checked: true, Result: res}
	s.render(w, r, http.StatusOK, "qu_verify", v)
}
