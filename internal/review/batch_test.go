package review_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store/storetest"
)

const employer = "91350100M000100Y43"

func batchCSV(rows int, ids func(i int) string, period string) []byte {
	var b bytes.Buffer
	b.WriteString("id_number,period,type,wage,status,employer,late_days\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%s,%s,pension,%d.%02d,paid,%s,\n", ids(i), period, 5000+i%3000, i%100, employer)
	}
	return b.Bytes()
}

func TestBatchOfOneHundredThousandRowsWithOneBadRow(t *testing.T) {
	content := batchCSV(100000, func(i int) string { return idNumber(i % 1000) }, "202401")
	lines := bytes.Split(content, []byte("\n"))
	// Row 54,321 as a spreadsheet counts it (the header is row 1): a wage with three decimals.
	lines[54320] = []byte(strings.Replace(string(lines[54320]), ",paid,", ",paid,", 1))
	parts := strings.Split(string(lines[54320]), ",")
	parts[3] = "12.345"
	lines[54320] = []byte(strings.Join(parts, ","))
	_, _, err := review.ParseBatch("2024-01.csv", bytes.Join(lines, []byte("\n")), time.Now())
	var es record.Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Field != "row 54321.wage" || es[0].Rule != "money_format" {
		t.Fatalf("want exactly row 54321's wage reported, got %v", err)
	}
	facts, hash, err := review.ParseBatch("2024-01.csv", content, time.Now())
	if err != nil || len(facts) != 100000 || len(hash) != 64 {
		t.Fatalf("clean batch: %d facts, %v", len(facts), err)
	}
}

func TestBatchHeaderAndRowProblems(t *testing.T) {
	cases := []struct {
		name, file, field, rule string
	}{
		{"unknown column", "id_number,period,type,wage,status,bonus\n", "row 1, column 6", "batch_column"},
		{"missing column", "id_number,period,type,status\n", "row 1", "batch_column"},
		{"bad period", "id_number,period,type,wage,status\n" + idNumber(1) + ",202413,pension,5000,paid\n", "row 2.period", "period_month"},
		{"bad type", "id_number,period,type,wage,status\n" + idNumber(1) + ",202401,pensoin,5000,paid\n", "row 2.type", "insurance_type"},
		{"bad id", "id_number,period,type,wage,status\n110105198503070010,202401,pension,5000,paid\n", "row 2.id_number", "gb11643_check"},
		{"bad employer", "id_number,period,type,wage,status,employer\n" + idNumber(1) + ",202401,pension,5000,paid,91350100M000100Y44\n", "row 2.employer", "gb32100_check"},
	}
	if record.IDCheckChar("11010519850307001") == '0' {
		t.Fatal("the bad-id case would be valid")
	}
	for _, c := range cases {
		_, _, err := review.ParseBatch("x.csv", []byte(c.file), time.Now())
		var es record.Errors
		if !errors.As(err, &es) || es[0].Field != c.field || es[0].Rule != c.rule {
			t.Errorf("%s: want %s/%s, got %v", c.name, c.field, c.rule, err)
		}
	}
}

func TestBatchUploadReviewAndPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		// Register the employer and 30 persons through review.
		d, err := rv.Submit(ctx, collector, review.Submission{Kind: "employer_registration", Facts: []review.DraftFact{
			{Type: record.TypeEmployerRegistered, CreditCode: employer, Data: data(map[string]any{"name": "测试单位", "industry_class": 1, "region": "350100", "registered_on": "2001-01-01"})}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []review.Actor{first, second, third, approver} {
			if d, err = rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 30; i++ {
			d, err := rv.Submit(ctx, collector, registration(100+i))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []review.Actor{first, second, third, approver} {
				if d, err = rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		// An XLSX batch: 30 persons, one month.
		x := excelize.NewFile()
		x.SetSheetRow("Sheet1", "A1", &[]any{"id_number", "period", "type", "wage", "status", "employer"})
		for i := 0; i < 30; i++ {
			x.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+2), &[]any{idNumber(100 + i), "202402", "pension", "8000.00", "paid", employer})
		}
		var buf bytes.Buffer
		if err := x.Write(&buf); err != nil {
			t.Fatal(err)
		}
		// A row naming an unregistered person refuses the whole file, naming the row.
		bad := excelize.NewFile()
		bad.SetSheetRow("Sheet1", "A1", &[]any{"id_number", "period", "type", "wage", "status"})
		bad.SetSheetRow("Sheet1", "A2", &[]any{idNumber(100), "202402", "pension", "8000", "paid"})
		bad.SetSheetRow("Sheet1", "A3", &[]any{idNumber(999), "202402", "pension", "8000", "paid"})
		var badBuf bytes.Buffer
		bad.Write(&badBuf)
		_, err = rv.SubmitBatch(ctx, collector, "bad.xlsx", badBuf.Bytes())
		var es record.Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Field != "row 3.id_number" || es[0].Rule != "person_registered" {
			t.Fatalf("unregistered person: %v", err)
		}
		before, _ := st.Counts(ctx)
		d, err = rv.SubmitBatch(ctx, collector, "2024-02.xlsx", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != "contribution_batch" || d.FactCount != 30 || len(d.Chain) != 2 || len(d.Materials) != 1 {
			t.Fatalf("batch draft: %+v", d)
		}
		if _, err := rv.SubmitBatch(ctx, collector, "again.xlsx", buf.Bytes()); record.ErrorCode(err) != record.EConflict {
			t.Fatalf("second upload of the same file: %v", err)
		}
		d, _ = rv.Act(ctx, first, d.ID, review.Approve, "")
		if mid, _ := st.Counts(ctx); mid["contributions"] != before["contributions"] {
			t.Fatal("posted before approval")
		}
		if d, err = rv.Act(ctx, approver, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		after, _ := st.Counts(ctx)
		if after["contributions"]-before["contributions"] != 30 || d.EventCount != 30 {
			t.Fatalf("posted %d rows", after["contributions"]-before["contributions"])
		}
	})
}
