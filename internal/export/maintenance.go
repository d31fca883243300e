package export

import (
	"encoding/json"
	"strconv"
	"strings"

	"sirec/internal/store"
)

// MaintenanceLog is the maintenance log (维护日志) as a table: one row per change, with the entry's time,
// draft, person key, reason, method, responsible person and reviewers repeated on each of its changes.
func MaintenanceLog(entries []store.MaintenanceEntry) Table {
	t := Table{Sheet: "维护日志", Header: []string{"时间 time", "事件 event", "草稿 draft", "人员 person", "维护原因 reason", "处理方式 method",
		"责任人 responsible", "审核人 reviewers", "类型 type", "更正事件 supersedes", "更正前 before", "更正后 after"}}
	for _, e := range entries {
		for _, c := range e.Changes {
			sup := ""
			if c.Supersedes != nil {
				sup = strconv.FormatInt(*c.Supersedes, 10)
			}
			t.Rows = append(t.Rows, []string{e.At.Format("2006-01-02 15:04:05"), strconv.FormatInt(e.Seq, 10), e.Draft, e.Person, e.Reason, e.Method,
				e.Responsible, strings.Join(e.Reviewers, " "), c.Type, sup, compact(c.Before), compact(c.After)})
		}
	}
	return t
}

func compact(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	return string(b)
}
