package web

import (
	"net/http"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/transfer"
)

// The console pages of transfers between regions (转移接续, R10): the list of transfers in and out with their
// status, a transfer's detail (sums, overlapping months, history, deliveries), the request of a transfer out,
// and — for system administrators — the agency's identity and the trust list of other agencies.

var transferCollectors = []auth.Post{auth.PostCollector}

// transferNav are the console's navigation entries of these pages.
var transferNav = []struct {
	href, label string
	posts       []auth.Post
}{
	{"/console/transfers", "nav.transfers", draftSeen},
	{"/console/agency", "nav.agency", sysadmins},
}

func (s *server) transferRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/transfers", s.staffOnly(draftSeen, s.transfersPage))
	mux.HandleFunc("POST /console/transfers", s.staffForm(transferCollectors, s.requestTransfer))
	mux.HandleFunc("GET /console/transfers/{number}", s.staffOnly(draftSeen, s.transferPage))
	mux.HandleFunc("GET /console/transfers/{number}/package", s.staffOnly(transferCollectors, s.transferPackage))
	mux.HandleFunc("POST /console/transfers/{number}/resend", s.staffForm(transferCollectors, s.transferResend))
	mux.HandleFunc("GET /console/agency", s.staffOnly(sysadmins, s.agencyPage))
	mux.HandleFunc("POST /console/agency", s.staffForm(sysadmins, s.agencySet))
	mux.HandleFunc("POST /console/agency/trust", s.staffForm(sysadmins, s.agencyTrust))
	mux.HandleFunc("POST /console/agency/trust/remove", s.staffForm(sysadmins, s.agencyDistrust))
}

func (s *server) transfers() *transfer.Service {
	return transfer.New(s.cfg.Store, s.cfg.Review, transfer.Config{Logger: s.cfg.Logger})
}

type transfersData struct {
	Items      []transfer.Transfer
	Pager      pager
	Direction  string
	Status     string
	Statuses   []string
	Refusals   []transfer.Refusal
	Trusted    []transfer.TrustEntry
	CanRequest bool
}

func (s *server) transfersPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showTransfers(w, r, p, s.staffView(w, r, p, "tr.title"), http.StatusOK)
}

func (s *server) showTransfers(w http.ResponseWriter, r *http.Request, p *auth.Principal, v *view, status int) {
	ctx := r.Context()
	svc := s.transfers()
	q := r.URL.Query()
	d := transfersData{Pager: newPager(r, 50), Direction: q.Get("direction"), Status: q.Get("status"), Statuses: transfer.Statuses,
		CanRequest: p.Has(auth.PostCollector)}
	if d.Direction != transfer.In && d.Direction != transfer.Out {
		d.Direction = ""
	}
	if !transferStatusKnown(transfer.Statuses, d.Status) {
		d.Status = ""
	}
	items, total, err := svc.List(ctx, transfer.Filter{Direction: d.Direction, Status: d.Status}, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for i := range items {
		items[i].Name = MaskName(items[i].Name) // lists show masked names and ID numbers (I7)
	}
	d.Items = items
	d.Pager.setTotal(int64(total))
	if d.Refusals, _, err = svc.Refusals(ctx, 0, 10); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if d.Trusted, err = svc.TrustList(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v.Data = d
	s.render(w, r, status, "transfers", v)
}

func transferStatusKnown(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *server) requestTransfer(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "tr.title")
	v.Form = formValues(r, "id_number", "destination", "reason")
	t, err := s.transfers().Request(r.Context(), actorOf(p), transfer.Request{IDNumber: v.Form["id_number"], Destination: v.Form["destination"], Reason: v.Form["reason"]})
	if err != nil {
		if !showInvalid(v, err, func(f string) string {
			switch f {
			case "id_number", "destination", "reason":
				return f
			}
			return ""
		}) {
			if record.ErrorCode(err) == record.EConflict || record.ErrorCode(err) == record.ENotFound {
				v.General = append(v.General, err.Error())
			} else {
				s.failErr(w, r, "console", err)
				return
			}
		}
		s.showTransfers(w, r, p, v, http.StatusUnprocessableEntity)
		return
	}
	if err := s.logTransferView(r, p, t, "console/transfers", "transfer request"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/transfers/"+t.Number+"?notice=tr.requested", http.StatusSeeOther)
}

// logTransferView registers a view of a transfer's person in the query log (Q7) before it is shown.
func (s *server) logTransferView(r *http.Request, p *auth.Principal, t transfer.Transfer, page, fields string) error {
	person := t.Person
	if person == "" {
		person = "transfer:" + t.PackageID
	}
	return AppendQuery(r.Context(), s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
		Person: person, Page: page, Fields: fields + " " + t.Number, Purpose: "business"})
}

func (s *server) transferOf(w http.ResponseWriter, r *http.Request) (transfer.Transfer, bool) {
	id, err := transfer.ParseNumber("number", r.PathValue("number"))
	if err != nil {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return transfer.Transfer{}, false
	}
	t, err := s.transfers().Get(r.Context(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return t, false
	}
	return t, true
}

type transferData struct {
	T          transfer.Transfer
	CanResend  bool
	CanExport  bool
	HasOverlap bool
}

func (s *server) transferPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	t, ok := s.transferOf(w, r)
	if !ok {
		return
	}
	if err := s.logTransferView(r, p, t, "console/transfer", "transfer"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v := s.staffView(w, r, p, "tr.item_title")
	if n := r.URL.Query().Get("notice"); strings.HasPrefix(n, "tr.") && messages["zh"][n] != "" {
		v.Notice = n
	}
	d := transferData{T: t, HasOverlap: len(t.Overlap) > 0, CanExport: p.Has(auth.PostCollector) && t.PackageSHA256 != ""}
	for _, dl := range t.Deliveries {
		if !dl.GaveUpAt.IsZero() {
			d.CanResend = p.Has(auth.PostCollector)
		}
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "transfer", v)
}

func (s *server) transferPackage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	t, ok := s.transferOf(w, r)
	if !ok {
		return
	}
	if err := s.logTransferView(r, p, t, "console/transfer/package", "transfer package"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	signed, _, err := s.transfers().Package(r.Context(), t.ID, p.Username)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+t.PackageID+`.sirec-transfer"`)
	w.Write(signed)
}

func (s *server) transferResend(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	t, ok := s.transferOf(w, r)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, "/console/transfers/"+t.Number+"?notice=tr.confirm_needed", http.StatusSeeOther)
		return
	}
	if _, err := s.transfers().Resend(r.Context(), p.Username, t.ID); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/transfers/"+t.Number+"?notice=tr.resent", http.StatusSeeOther)
}

type agencyData struct {
	Identity transfer.Identity
	Trusted  []transfer.TrustEntry
	Log      []transfer.TrustLogEntry
}

func (s *server) agencyPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "ag.title")
	if n := r.URL.Query().Get("notice"); strings.HasPrefix(n, "ag.") && messages["zh"][n] != "" {
		v.Notice = n
	}
	s.showAgency(w, r, v, http.StatusOK)
}

func (s *server) showAgency(w http.ResponseWriter, r *http.Request, v *view, status int) {
	ctx := r.Context()
	svc := s.transfers()
	var d agencyData
	var err error
	if d.Identity, err = svc.Identity(ctx); err == nil {
		if d.Trusted, err = svc.TrustList(ctx); err == nil {
			d.Log, err = svc.TrustLog(ctx, 0, 50)
		}
	}
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v.Data = d
	s.render(w, r, status, "agency", v)
}

func (s *server) agencySet(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "ag.title")
	v.Form = formValues(r, "name", "url")
	if _, err := s.transfers().SetIdentity(r.Context(), p.Username, v.Form["name"], v.Form["url"]); err != nil {
		if !showInvalid(v, err, func(f string) string { return f }) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showAgency(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r, "/console/agency?notice=ag.saved", http.StatusSeeOther)
}

func (s *server) agencyTrust(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "ag.title")
	v.Form = formValues(r, "region", "trust_name", "verifier_key", "trust_url")
	_, err := s.transfers().Trust(r.Context(), p.Username, transfer.TrustSpec{Region: v.Form["region"], Name: v.Form["trust_name"],
		Key: v.Form["verifier_key"], URL: v.Form["trust_url"]})
	if err != nil {
		if !showInvalid(v, err, func(f string) string {
			switch f {
			case "name", "url":
				return "trust_" + f
			}
			return f
		}) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showAgency(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r, "/console/agency?notice=ag.trusted", http.StatusSeeOther)
}

func (s *server) agencyDistrust(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, "/console/agency?notice=ag.confirm_needed", http.StatusSeeOther)
		return
	}
	if err := s.transfers().Distrust(r.Context(), p.Username, r.PostFormValue("region")); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/agency?notice=ag.removed", http.StatusSeeOther)
}

func init() {
	addMessages(map[string]map[string]string{
		"zh": {
			"nav.transfers": "转移接续", "nav.agency": "机构与信任列表",
			"kind.transfer_out": "转移接续（转出）", "kind.transfer_in": "转移接续（转入）",
			"fact.transfer.out": "转出", "fact.transfer.in": "转入（缴费月份）", "pstatus.transferred_out": "已转出",
			"rule.person_transferred_out": "该人员的权益记录已转出至其他统筹区，缴费由转入地经办机构记录。",
			"rule.destination_trusted":    "转入地不在信任列表中，请先由系统管理员添加。",
			"rule.transfer_reason":        "请填写转移原因（如新单位及所在地区），不超过500字。",
			"rule.person_active":          "只有正常参保状态的记录才能转出。",
			"rule.transfer_elsewhere":     "转入地不能是本机构所在地区。",
			"rule.verifier_key_region":    "该公钥属于其他地区，与填写的地区代码不符。",
			"tr.title":                    "转移接续", "tr.item_title": "转移接续详情",
			"tr.intro":   "转出申请作为待审件经初审、审核、复核、审批；审批通过时记录转出并生成签名的转移接续信息包，自动发送至转入地，未送达时按退避间隔重试。转入地逐项核验签名、检查点、每条事件的包含证明和全部金额，核验通过后形成转入待审件。",
			"tr.request": "申请转出", "tr.id_number": "公民身份号码", "tr.destination": "转入地",
			"tr.reason": "转移原因", "tr.submit": "提交审核", "tr.no_trusted": "信任列表为空，暂不能申请转出。",
			"tr.filter": "筛选", "tr.direction": "方向", "tr.dir.in": "转入", "tr.dir.out": "转出", "tr.all": "全部",
			"tr.status": "状态", "tr.apply": "查询", "tr.number": "编号", "tr.package": "信息包编号",
			"tr.region": "对方地区", "tr.person": "人员", "tr.account": "个人账户转移额",
			"tr.pooled": "统筹基金转移额", "tr.updated": "更新时间", "tr.none": "没有符合条件的转移接续。",
			"tr.refusals": "到达时被拒收的信息包", "tr.refusals_none": "没有。", "tr.source": "来源",
			"tr.refusal_reason": "拒收原因", "tr.when": "时间", "tr.draft": "待审件", "tr.period": "转移年月",
			"tr.months": "缴费年限（月）", "tr.type": "险种", "tr.paid": "实际缴费", "tr.deemed": "视同缴费",
			"tr.total": "合计", "tr.years": "年", "tr.overlap": "重叠月份（本地已有缴费，只计一次）",
			"tr.no_overlap": "无重叠月份。", "tr.history": "办理记录", "tr.who": "办理人", "tr.detail": "说明",
			"tr.deliveries": "发送记录", "tr.kind": "内容", "tr.attempts": "尝试次数", "tr.state": "状态",
			"tr.delivered": "已送达", "tr.gave_up": "被拒收", "tr.waiting": "等待重试", "tr.next": "下次尝试",
			"tr.last_error": "最近错误", "tr.export": "下载信息包（离线携带）", "tr.resend": "重新发送",
			"tr.resend_confirm": "我已确认对方的信任列表或地址已更正，重新发送。", "tr.checkpoint": "检查点大小",
			"tr.events": "记录的事件", "tr.sha": "信息包 SHA-256", "tr.requested": "转出申请已提交审核。",
			"tr.resent": "已重新排队发送。", "tr.confirm_needed": "请先勾选确认。",
			"tr.status.requested": "已申请", "tr.status.approved": "已审批", "tr.status.sent": "已发送",
			"tr.status.received": "已接收", "tr.status.accepted": "已转入", "tr.status.acknowledged": "已确认",
			"tr.status.refused": "已拒绝", "tr.status.withdrawn": "已撤回",
			"tr.kind.package": "信息包", "tr.kind.ack": "接收确认", "tr.kind.refusal": "拒绝通知",
			"ag.title": "机构与信任列表", "ag.identity": "本机构", "ag.region": "地区代码",
			"ag.name": "机构名称", "ag.url": "服务地址（其他机构向此发送）", "ag.key": "验证公钥（提供给其他机构）",
			"ag.save": "保存", "ag.trusted": "已加入信任列表。", "ag.saved": "已保存。", "ag.removed": "已移出信任列表。",
			"ag.trust_list": "信任列表", "ag.trust_add": "添加或更新其他机构", "ag.trust_submit": "保存",
			"ag.remove": "移出", "ag.remove_confirm": "确认移出：此后拒收该机构的信息包和确认。",
			"ag.none": "信任列表为空。", "ag.log": "变更记录", "ag.action": "操作",
			"ag.confirm_needed": "请先勾选确认。", "ag.key_hint": "对方执行 sirec agency show 显示的公钥，形如 sirec.agency/310115+…",
		},
		"en": {
			"nav.transfers": "Transfers", "nav.agency": "Agency and trust list",
			"kind.transfer_out": "Transfer out", "kind.transfer_in": "Transfer in",
			"fact.transfer.out": "Transferred out", "fact.transfer.in": "Transferred in (months)", "pstatus.transferred_out": "Transferred out",
			"rule.person_transferred_out": "The person's record was transferred out to another region; that region's agency records their contributions.",
			"rule.destination_trusted":    "The destination is not on the trust list; a system administrator adds it first.",
			"rule.transfer_reason":        "Say why the record is transferred (e.g. the new employer and its region), at most 500 characters.",
			"rule.person_active":          "Only an active record is transferred out.",
			"rule.transfer_elsewhere":     "The destination cannot be this agency's own region.",
			"rule.verifier_key_region":    "The key belongs to another region than the one given.",
			"tr.title":                    "Transfers between regions", "tr.item_title": "Transfer",
			"tr.intro":   "A transfer out is a draft reviewed through initial review, review, re-check and approval; its approval records the transfer and signs the transfer package, which is delivered to the destination and retried with backoff until it arrives. The destination checks the signature, the checkpoint, every event's inclusion proof and every figure; a package that passes becomes a transfer-in draft.",
			"tr.request": "Request a transfer out", "tr.id_number": "Citizen ID number", "tr.destination": "Destination",
			"tr.reason": "Reason", "tr.submit": "Submit for review", "tr.no_trusted": "The trust list is empty: no transfer can be requested yet.",
			"tr.filter": "Filter", "tr.direction": "Direction", "tr.dir.in": "In", "tr.dir.out": "Out", "tr.all": "All",
			"tr.status": "Status", "tr.apply": "Show", "tr.number": "Number", "tr.package": "Package",
			"tr.region": "Other region", "tr.person": "Person", "tr.account": "Personal account",
			"tr.pooled": "Pooled fund", "tr.updated": "Updated", "tr.none": "No transfers match.",
			"tr.refusals": "Packages refused on arrival", "tr.refusals_none": "None.", "tr.source": "Source",
			"tr.refusal_reason": "Reason", "tr.when": "When", "tr.draft": "Draft", "tr.period": "Month of transfer",
			"tr.months": "Contribution months", "tr.type": "Insurance type", "tr.paid": "Paid", "tr.deemed": "Deemed",
			"tr.total": "Total", "tr.years": "Years", "tr.overlap": "Overlapping months (already paid here; counted once)",
			"tr.no_overlap": "No overlapping months.", "tr.history": "History", "tr.who": "By", "tr.detail": "Detail",
			"tr.deliveries": "Deliveries", "tr.kind": "What", "tr.attempts": "Attempts", "tr.state": "State",
			"tr.delivered": "Delivered", "tr.gave_up": "Refused", "tr.waiting": "Waiting to retry", "tr.next": "Next attempt",
			"tr.last_error": "Last error", "tr.export": "Download the package (carriage as a file)", "tr.resend": "Send again",
			"tr.resend_confirm": "I have checked that the trust list or address was put right; send again.", "tr.checkpoint": "Checkpoint size",
			"tr.events": "Events recorded", "tr.sha": "Package SHA-256", "tr.requested": "The transfer request is submitted for review.",
			"tr.resent": "Queued for delivery again.", "tr.confirm_needed": "Tick the confirmation first.",
			"tr.status.requested": "Requested", "tr.status.approved": "Approved", "tr.status.sent": "Sent",
			"tr.status.received": "Received", "tr.status.accepted": "Accepted", "tr.status.acknowledged": "Acknowledged",
			"tr.status.refused": "Refused", "tr.status.withdrawn": "Withdrawn",
			"tr.kind.package": "Package", "tr.kind.ack": "Acknowledgement", "tr.kind.refusal": "Refusal",
			"ag.title": "Agency and trust list", "ag.identity": "This agency", "ag.region": "Region code",
			"ag.name": "Name", "ag.url": "Base URL (other agencies deliver here)", "ag.key": "Verifier key (give it to other agencies)",
			"ag.save": "Save", "ag.trusted": "Put on the trust list.", "ag.saved": "Saved.", "ag.removed": "Taken off the trust list.",
			"ag.trust_list": "Trust list", "ag.trust_add": "Add or update another agency", "ag.trust_submit": "Save",
			"ag.remove": "Remove", "ag.remove_confirm": "Confirm: its packages and acknowledgements are refused from now on.",
			"ag.none": "The trust list is empty.", "ag.log": "Changes", "ag.action": "Action",
			"ag.confirm_needed": "Tick the confirmation first.", "ag.key_hint": "The key the other agency's sirec agency show prints, like sirec.agency/310115+…",
		},
	})
}
