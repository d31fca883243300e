package web

import (
	"net/http"
	"strconv"

	"sirec/internal/auth"
	"sirec/internal/custody"
	"sirec/internal/record"
)

// The custody page (备份与恢复演练, R9.2, R9.3): the backup schedule, the last good backup and restore drill, the
// counters monitoring reads, and every backup and drill with its report — read-only, for supervision and the
// information unit. A failed or overdue backup or drill puts a banner at the top.

// custodians may see the custody page.
var custodians = []auth.Post{auth.PostSupervisor, auth.PostSysadmin, auth.PostDBAdmin}

const custodyPageSize = 20

func (s *server) custodyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/custody", s.staffOnly(custodians, s.custodyPage))
	mux.HandleFunc("GET /console/custody/runs/{id}", s.staffOnly(custodians, s.custodyRunPage))
}

type custodyData struct {
	Status custody.Status
	Kind   string // the runs shown: "", "backup" or "drill"
	Kinds  []string
	Runs   []custody.Run
	Pager  pager
}

// schedule returns the schedule serve runs, nil for none.
func (s *server) schedule() *custody.Schedule {
	if s.cfg.Custody == nil {
		return nil
	}
	return &s.cfg.Custody.Schedule
}

func (s *server) custodyPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	d := custodyData{Kind: r.URL.Query().Get("kind"), Kinds: []string{custody.RunBackup, custody.RunDrill}, Pager: newPager(r, custodyPageSize)}
	if d.Kind != custody.RunBackup && d.Kind != custody.RunDrill {
		d.Kind = ""
	}
	var err error
	if d.Status, err = custody.ReadStatus(ctx, s.cfg.Store.Driver(), s.schedule(), s.cfg.Now()); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	runs, total, err := custody.ListRuns(ctx, s.cfg.Store.Driver(), d.Kind, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Runs = runs
	d.Pager.setTotal(int64(total))
	v := s.staffView(w, r, p, "custody.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "custody", v)
}

func (s *server) custodyRunPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.failErr(w, r, "console", record.Errorf(record.ENotFound, "no such run"))
		return
	}
	run, err := custody.GetRun(r.Context(), s.cfg.Store.Driver(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v := s.staffView(w, r, p, "custody.run_title")
	v.Data = run
	s.render(w, r, http.StatusOK, "custody_run", v)
}

func init() {
	addMessages(map[string]map[string]string{
		"zh": {
			"nav.custody": "备份与演练", "custody.title": "备份与恢复演练", "custody.run_title": "备份或演练记录",
			"custody.alerts":              "数据保管出现问题，请立即处理：",
			"custody.alert.backup_failed": "最近一次备份失败。", "custody.alert.drill_failed": "最近一次恢复演练失败。",
			"custody.alert.backup_overdue": "已超过两个备份周期没有成功的备份。", "custody.alert.drill_overdue": "已超过两个演练周期没有通过的恢复演练。",
			"custody.alert.no_backup": "尚无成功的备份。",
			"custody.schedule":        "定时任务", "custody.no_schedule": "服务未配置定时备份（启动 serve 时未指定 --backup-to）。以下为命令行备份和演练的记录。",
			"custody.to": "备份位置", "custody.every": "备份间隔", "custody.keep": "保留份数", "custody.drill_every": "演练间隔",
			"custody.no_drills": "未安排", "custody.recipients": "加密接收方",
			"custody.last_backup": "最近成功的备份", "custody.last_drill": "最近通过的恢复演练", "custody.never": "尚无。",
			"custody.metrics": "监控指标", "custody.backups_ok": "成功备份次数", "custody.backup_failures": "失败备份次数",
			"custody.backup_streak": "连续失败备份", "custody.drills_ok": "通过演练次数", "custody.drill_failures": "失败演练次数",
			"custody.drill_streak": "连续失败演练", "custody.runs": "备份和演练记录", "custody.all": "全部",
			"custody.kind.backup": "备份", "custody.kind.drill": "恢复演练", "custody.kind": "类型", "custody.started": "开始时间",
			"custody.took": "用时", "custody.status": "结果", "custody.status.ok": "成功", "custody.status.failed": "失败",
			"custody.status.running": "进行中", "custody.by": "发起", "custody.events": "事件数", "custody.size": "大小（字节）",
			"custody.summary": "说明", "custody.url": "备份", "custody.root": "根哈希", "custody.report": "报告",
			"custody.no_runs": "尚无记录。", "custody.filter": "筛选", "custody.back": "返回备份与演练",
			"custody.hint": "备份命令：sirec backup --to URL；核验：sirec backup verify URL；恢复：sirec restore URL --db DSN。详见运维手册 docs/OPERATIONS.md。",
		},
		"en": {
			"nav.custody": "Backups & drills", "custody.title": "Backups and restore drills", "custody.run_title": "Backup or drill",
			"custody.alerts":              "Custody needs attention now:",
			"custody.alert.backup_failed": "The last backup failed.", "custody.alert.drill_failed": "The last restore drill failed.",
			"custody.alert.backup_overdue": "No good backup for more than two backup intervals.", "custody.alert.drill_overdue": "No passed restore drill for more than two drill intervals.",
			"custody.alert.no_backup": "There is no good backup yet.",
			"custody.schedule":        "Schedule", "custody.no_schedule": "The service runs no scheduled backups (serve was started without --backup-to). Below are the backups and drills run from the command line.",
			"custody.to": "Destination", "custody.every": "Backup every", "custody.keep": "Backups kept", "custody.drill_every": "Drill every",
			"custody.no_drills": "none", "custody.recipients": "Encrypted to",
			"custody.last_backup": "Last good backup", "custody.last_drill": "Last passed restore drill", "custody.never": "None yet.",
			"custody.metrics": "Metrics", "custody.backups_ok": "Good backups", "custody.backup_failures": "Failed backups",
			"custody.backup_streak": "Failed backups in a row", "custody.drills_ok": "Passed drills", "custody.drill_failures": "Failed drills",
			"custody.drill_streak": "Failed drills in a row", "custody.runs": "Backups and drills", "custody.all": "All",
			"custody.kind.backup": "Backup", "custody.kind.drill": "Restore drill", "custody.kind": "Kind", "custody.started": "Started",
			"custody.took": "Took", "custody.status": "Result", "custody.status.ok": "OK", "custody.status.failed": "Failed",
			"custody.status.running": "Running", "custody.by": "Started by", "custody.events": "Events", "custody.size": "Size (bytes)",
			"custody.summary": "Summary", "custody.url": "Backup", "custody.root": "Root hash", "custody.report": "Report",
			"custody.no_runs": "None yet.", "custody.filter": "Show", "custody.back": "Back to backups and drills",
			"custody.hint": "Back up: sirec backup --to URL; verify: sirec backup verify URL; restore: sirec restore URL --db DSN. See the operations guide, docs/OPERATIONS.md.",
		},
	})
}
