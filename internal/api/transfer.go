package api

import (
	"io"
	"net/http"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/transfer"
)

// Transfers between regions (R10): the agency's identity and trust list, transfer requests, their status, and
// the two endpoints other agencies deliver to — authenticated not by a user but by the signature of an agency
// on the trust list.

// transferRoutes are the routes of transfers and of the agency's identity.
func (s *Server) transferRoutes() []route {
	audit := []auth.Post{auth.PostSysadmin, auth.PostSupervisor}
	collectors := []auth.Post{auth.PostCollector}
	return []route{
		{"GET", "/api/v1/agency", "This agency: region code, name, address and the verifier key other agencies trust", nil, "", "", s.agency},
		{"PUT", "/api/v1/agency", "Set this agency's name and base URL", admins, auth.ScopeUsersAdmin, "json", s.setAgency},
		{"GET", "/api/v1/agency/trust", "The trust list: other agencies' verifier keys and addresses", admins, auth.ScopeUsersAdmin, "", s.trustList},
		{"PUT", "/api/v1/agency/trust/{region}", "Put an agency on the trust list, or change its name, key or address", admins, auth.ScopeUsersAdmin, "json", s.trust},
		{"DELETE", "/api/v1/agency/trust/{region}", "Take an agency off the trust list", admins, auth.ScopeUsersAdmin, "", s.distrust},
		{"GET", "/api/v1/agency/trust/log", "Every change of the trust list and of the agency's identity (paged)", audit, "", "", s.trustLog},
		{"POST", "/api/v1/transfers", "Request a transfer of a person's record out to another region (a transfer_out draft)", collectors, auth.ScopeDraftsWrite, "json", s.requestTransfer},
		{"GET", "/api/v1/transfers", "Transfers in and out: direction, status (paged, newest first)", draftSeen, auth.ScopeDraftsRead, "", s.transferList},
		{"GET", "/api/v1/transfers/refusals", "Packages and acknowledgements refused on arrival, with the reason (paged)", draftSeen, auth.ScopeDraftsRead, "", s.transferRefusals},
		{"GET", "/api/v1/transfers/{number}", "A transfer with its sums, overlap, status history and deliveries", draftSeen, auth.ScopeDraftsRead, "", s.transferGet},
		{"GET", "/api/v1/transfers/{number}/package", "The signed package, for carriage as a file", collectors, auth.ScopeDraftsWrite, "", s.transferPackage},
		{"GET", "/api/v1/transfers/{number}/message", "The signed acknowledgement or refusal of a transfer in, for carriage as a file", collectors, auth.ScopeDraftsWrite, "", s.transferMessage},
		{"POST", "/api/v1/transfers/{number}/resend", "Queue again a delivery that was refused or given up", collectors, auth.ScopeDraftsWrite, "", s.transferResend},
		{"POST", "/api/v1/transfers/import", "Take in a package or acknowledgement carried as a file (raw body)", collectors, auth.ScopeDraftsWrite, "file", s.transferImport},
		{"POST", "/api/v1/transfers/inbox", "Deliver a signed transfer package (from another agency; checked against the trust list)", nil, "", "file", s.transferInbox},
		{"POST", "/api/v1/transfers/acks", "Deliver a signed acknowledgement or refusal (from another agency; checked against the trust list)", nil, "", "file", s.transferAck},
	}
}

func (s *Server) transfers() *transfer.Service {
	if s.Transfer != nil {
		return s.Transfer
	}
	return transfer.New(s.Store, s.Review, transfer.Config{Logger: s.Logger})
}

func (s *Server) agency(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := s.transfers().Identity(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, id)
}

func (s *Server) setAgency(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.transfers().SetIdentity(r.Context(), p.Username, in.Name, in.URL)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, id)
}

func (s *Server) trustList(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	list, err := s.transfers().TrustList(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agencies": list})
}

func (s *Server) trust(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Name string `json:"name"`
		Key  string `json:"verifier_key"`
		URL  string `json:"url"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.transfers().Trust(r.Context(), p.Username, transfer.TrustSpec{Region: r.PathValue("region"), Name: in.Name, Key: in.Key, URL: in.URL})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) distrust(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.transfers().Distrust(r.Context(), p.Username, r.PathValue("region")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) trustLog(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.transfers().TrustLog(r.Context(), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "offset": offset, "limit": limit})
}

func (s *Server) requestTransfer(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in transfer.Request
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.transfers().Request(r.Context(), actor(p), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logQuery(r, p, t.Person, "api/transfers", "transfer "+t.Number); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) transferList(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, total, err := s.transfers().List(r.Context(), transfer.Filter{Direction: q.Get("direction"), Status: q.Get("status")}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Lists show no ID numbers in clear and names masked (I7); a transfer's detail is a logged read.
	for i := range list {
		list[i].Name = maskName(list[i].Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": list, "total": total, "offset": offset, "limit": limit})
}

func maskName(name string) string {
	r := []rune(name)
	if len(r) <= 1 {
		return name
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// transferSubject is the person a transfer's read is logged against: the person key here, or — before a
// transfer in is recorded — the key its registration will have.
func transferSubject(t transfer.Transfer) string {
	if t.Person != "" {
		return t.Person
	}
	return "transfer:" + t.PackageID
}

func (s *Server) transferOf(w http.ResponseWriter, r *http.Request, p *auth.Principal, what string) (transfer.Transfer, bool) {
	id, err := transfer.ParseNumber("number", r.PathValue("number"))
	if err != nil {
		s.writeError(w, r, err)
		return transfer.Transfer{}, false
	}
	t, err := s.transfers().Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return t, false
	}
	if err := s.logQuery(r, p, transferSubject(t), "api/transfers", what+" "+t.Number); err != nil {
		s.writeError(w, r, err)
		return t, false
	}
	return t, true
}

func (s *Server) transferGet(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if t, ok := s.transferOf(w, r, p, "transfer"); ok {
		writeJSON(w, http.StatusOK, t)
	}
}

func (s *Server) transferPackage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	t, ok := s.transferOf(w, r, p, "transfer package")
	if !ok {
		return
	}
	signed, _, err := s.transfers().Package(r.Context(), t.ID, p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+t.PackageID+`.sirec-transfer"`)
	w.Write(signed)
}

func (s *Server) transferMessage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	t, ok := s.transferOf(w, r, p, "transfer acknowledgement")
	if !ok {
		return
	}
	body, err := s.transfers().Message(r.Context(), t.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+t.PackageID+`.sirec-ack"`)
	w.Write(body)
}

func (s *Server) transferResend(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := transfer.ParseNumber("number", r.PathValue("number"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.transfers().Resend(r.Context(), p.Username, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": t.Number, "status": t.Status})
}

func (s *Server) transferRefusals(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, total, err := s.transfers().Refusals(r.Context(), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"refusals": list, "total": total, "offset": offset, "limit": limit})
}

// readMessage reads a signed package or acknowledgement body.
func readMessage(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, transfer.MaxPackage+1))
	if err != nil {
		return nil, err
	}
	if len(b) > transfer.MaxPackage {
		return nil, record.Invalid("body", "package_size", "a package may be at most %d MiB", transfer.MaxPackage>>20)
	}
	return b, nil
}

func (s *Server) transferImport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	b, err := readMessage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, dup, err := s.transfers().Import(r.Context(), b, "upload:"+p.Username, p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": t.Number, "package": t.PackageID, "status": t.Status, "duplicate": dup, "draft": t.Draft})
}

// transferInbox takes a package from another agency. The answer is what the origin records: 200 with the
// transfer's number and status (also for a duplicate), or a problem document saying why it is refused.
func (s *Server) transferInbox(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	b, err := readMessage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, dup, err := s.transfers().Receive(r.Context(), b, "http:"+r.RemoteAddr, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": t.Number, "package": t.PackageID, "status": t.Status, "duplicate": dup})
}

func (s *Server) transferAck(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	b, err := readMessage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.transfers().ReceiveAck(r.Context(), b, "http:"+r.RemoteAddr, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"number": t.Number, "package": t.PackageID, "status": t.Status})
}
