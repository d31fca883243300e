package export

import (
	"strconv"
	"time"

	"sirec/internal/archive"
	"sirec/internal/workitem"
)

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04:05")
}

// WorkItems is a list of work items (工作事项) as a table, one row per item. Persons appear by key and masked ID
// number only.
func WorkItems(items []workitem.Item) Table {
	t := Table{Sheet: "工作事项", Header: []string{"编号 number", "来源 source", "检查项 kind", "严重程度 severity", "状态 status", "结果 resolution",
		"人员 person", "身份号码 masked ID", "单位 employer", "所属期 period", "事件 event", "说明 detail", "经办人 assignee", "维护草稿 draft",
		"不再出现 no longer found since", "首次发现 first found", "最近发现 last found", "关闭人 closed by", "关闭时间 closed at"}}
	for _, it := range items {
		period, seq := "", ""
		if it.Period != 0 {
			period = it.Period.String()
		}
		if it.Seq != 0 {
			seq = strconv.FormatInt(it.Seq, 10)
		}
		t.Rows = append(t.Rows, []string{it.Number, it.Source, it.Kind, it.Severity, it.Status, it.Resolution, it.Person, it.MaskedID, it.Employer,
			period, seq, it.Detail, it.Assignee, it.Draft, when(it.GoneSince), when(it.CreatedAt), when(it.LastSeen), it.ClosedBy, when(it.ClosedAt)})
	}
	return t
}

// Archive is an archive listing (档案) as a table: one row per material and the draft or agreement it is kept for.
func Archive(entries []archive.Entry) Table {
	t := Table{Sheet: "档案", Header: []string{"材料 name", "SHA-256", "类型 type", "环节 stage", "草稿 draft", "草稿状态 draft status", "用户 user",
		"大小 size", "归档人 filed by", "归档时间 filed at", "保管期限（年，0为永久）retention years", "保管至 kept until", "期满 retention elapsed"}}
	for _, e := range entries {
		until, elapsed := e.KeptUntil, ""
		if e.RetentionYears == 0 {
			until = "永久 permanent"
		}
		if e.Elapsed {
			elapsed = "是 yes"
		}
		t.Rows = append(t.Rows, []string{e.Name, e.SHA256, e.Type, e.Stage, e.Draft, e.DraftStatus, e.User, strconv.FormatInt(e.Size, 10), e.AddedBy,
			when(e.AddedAt), strconv.Itoa(e.RetentionYears), until, elapsed})
	}
	return t
}
