package export

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"sirec/internal/record"
	"sirec/internal/store"
)

func TestMaintenanceLogAsCSVAndXLSX(t *testing.T) {
	seq := int64(7)
	entries := []store.MaintenanceEntry{{Seq: 9, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Draft: "D000003", Person: "abc",
		Reason: "工资有误", Method: "依工资表更正", Responsible: "weihu", Reviewers: []string{"initial_review:a", "approval:b"},
		Changes: []record.MaintenanceChange{{Type: "contribution.posted", Supersedes: &seq, Before: json.RawMessage(`{"wage":1}`), After: json.RawMessage(`{"wage":2}`)}}}}
	tab := MaintenanceLog(entries)
	var csv bytes.Buffer
	if err := CSV(&csv, tab); err != nil {
		t.Fatal(err)
	}
	want := "\ufeff时间 time,事件 event,草稿 draft,人员 person,维护原因 reason,处理方式 method,责任人 responsible,审核人 reviewers,类型 type,更正事件 supersedes,更正前 before,更正后 after\n" +
		`2026-01-02 03:04:05,9,D000003,abc,工资有误,依工资表更正,weihu,initial_review:a approval:b,contribution.posted,7,"{""wage"":1}","{""wage"":2}"` + "\n"
	if csv.String() != want {
		t.Fatalf("csv\n got %q\nwant %q", csv.String(), want)
	}
	var x bytes.Buffer
	if err := XLSX(&x, tab); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&x)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("维护日志")
	if err != nil || len(rows) != 2 || rows[1][4] != "工资有误" || rows[1][11] != `{"wage":2}` {
		t.Fatalf("xlsx rows: %v %v", rows, err)
	}
	if err := Write(&x, "pdf", tab); err == nil {
		t.Fatal("pdf accepted")
	}
}
