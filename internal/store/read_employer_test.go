package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const employerB = "91110105MA01234567"

// employerFixture records two employers, four persons and their enrolments and contributions, so that every
// figure the employer reads return is known.
func employerFixture(t *testing.T, s *store.Store) (codeA, codeB string) {
	t.Helper()
	codeB = employerB[:17] + string(record.USCCCheckChar(employerB[:17]))
	ctx := context.Background()
	facts := []record.Fact{
		&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 2, Name: "福州测试有限公司", Region: "350100", RegisteredOn: "2001-05-01"},
		&record.EmployerRegistered{CreditCode: codeB, IndustryClass: 1, Name: "北京样例_科技%公司", Region: "110105", RegisteredOn: "2010-01-01"},
		&record.PersonRegistered{PersonRef: ref(idNumber(1)), Name: "张三", Region: "110105", RegisteredOn: "2019-01-02"},
		&record.PersonRegistered{PersonRef: ref(idNumber(2)), Name: "李四", Region: "110105", RegisteredOn: "2019-01-02"},
		&record.PersonRegistered{PersonRef: ref(idNumber(3)), Name: "张三", Region: "110105", RegisteredOn: "2020-01-02"},
		&record.PersonRegistered{PersonRef: ref(idNumber(4)), Name: "王五", Region: "110105", RegisteredOn: "2020-01-02"},
		&record.EnrolmentStarted{PersonRef: ref(idNumber(1)), Employer: employerA, Type: record.Medical, From: "2023-01-01"},
		&record.EnrolmentStarted{PersonRef: ref(idNumber(1)), Employer: employerA, Type: record.Pension, From: "2023-01-01"},
		&record.EnrolmentStarted{PersonRef: ref(idNumber(2)), Employer: employerA, Type: record.Pension, From: "2023-06-01"},
		&record.EnrolmentStopped{PersonRef: ref(idNumber(2)), Employer: employerA, Type: record.Pension, To: "2023-12-31", Reason: "离职"},
		&record.EnrolmentStarted{PersonRef: ref(idNumber(3)), Employer: codeB, Type: record.Pension, From: "2020-01-02"},
	}
	contribution := func(id int, employer string, p record.Period, typ, status string, wage int64) record.Fact {
		return &record.ContributionPosted{PersonRef: ref(idNumber(id)), Employer: employer, Period: p, Type: typ, Status: status, Wage: wage}
	}
	for m := 1; m <= 3; m++ {
		facts = append(facts, contribution(1, employerA, record.MakePeriod(2023, m), record.Pension, record.StatusPaid, 800000))
	}
	facts = append(facts,
		contribution(1, employerA, 202301, record.Medical, record.StatusArrears, 800000),
		contribution(2, employerA, 202306, record.Pension, record.StatusPaid, 600000),
		contribution(1, employerA, 202401, record.Pension, record.StatusPaid, 900000),
		contribution(3, codeB, 202301, record.Pension, record.StatusPaid, 700000),
		// Names employer A, but person 4 never had an enrolment through it: not one of its employees' rows.
		contribution(4, employerA, 202301, record.Pension, record.StatusPaid, 500000),
	)
	if _, err := s.Record(ctx, "test:employers", facts); err != nil {
		t.Fatal(err)
	}
	return employerA, codeB
}

func TestEmployerReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		a, b := employerFixture(t, s)

		e, err := s.Employer(ctx, a)
		if err != nil || e.Name != "福州测试有限公司" || e.IndustryClass != 2 || e.Status != "active" || e.RegisteredOn != "2001-05-01" {
			t.Fatalf("Employer: %+v %v", e, err)
		}
		if _, err := s.Employer(ctx, "91350100M000100Y4X"); record.ErrorCode(err) != record.ENotFound {
			t.Errorf("unknown employer: %v", err)
		}

		// Found by code, by part of the name, case and LIKE wildcards taken literally.
		for _, tc := range []struct {
			text string
			want []string
		}{
			{a, []string{a}},
			{"测试", []string{a}},
			{"公司", []string{b, a}}, // name order: 北 (U+5317) before 福 (U+798F)
			{"样例_科技%", []string{b}},
			{"测_", nil}, // an unescaped _ would match 测试
			{strings.ToLower(b), []string{b}},
		} {
			got, total, err := s.FindEmployers(ctx, tc.text, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, g := range got {
				codes = append(codes, g.CreditCode)
			}
			if !reflect.DeepEqual(codes, tc.want) || total != int64(len(tc.want)) {
				t.Errorf("FindEmployers(%q) = %v (%d), want %v", tc.text, codes, total, tc.want)
			}
		}

		list, total, err := s.Employees(ctx, a, store.EmployeesByName, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(list) != 2 {
			t.Fatalf("employees of A: %d %+v", total, list)
		}
		// Binary name order: 张 (U+5F20) before 李 (U+674E).
		if list[0].Name != "张三" || !reflect.DeepEqual(list[0].Types, []string{record.Pension, record.Medical}) || list[0].From != "2023-01-01" || list[0].To != "" {
			t.Errorf("first employee: %+v", list[0])
		}
		if list[1].Name != "李四" || !reflect.DeepEqual(list[1].Types, []string{record.Pension}) || list[1].To != "2023-12-31" || list[1].IDMasked != record.MaskID(idNumber(2)) {
			t.Errorf("second employee: %+v", list[1])
		}
		byFrom, _, err := s.Employees(ctx, a, store.EmployeesByFrom, 0, 1)
		if err != nil || len(byFrom) != 1 || byFrom[0].Name != "李四" {
			t.Errorf("newest first, one per page: %+v %v", byFrom, err)
		}
		page2, total, err := s.Employees(ctx, a, store.EmployeesByName, 1, 1)
		if err != nil || total != 2 || len(page2) != 1 || page2[0].Name != "李四" {
			t.Errorf("second page: %+v %d %v", page2, total, err)
		}
		if _, _, err := s.Employees(ctx, a, "salary", 0, 10); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("bad sort: %v", err)
		}

		rows, total, sum, err := s.EmployerContributions(ctx, a, store.EmployerContributionsFilter{}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%d %s p%d m%d a%d", r.Period, r.Type, r.Persons, r.Months, r.Arrears))
		}
		want := []string{"202401 pension p1 m1 a0", "202306 pension p1 m1 a0", "202303 pension p1 m1 a0", "202302 pension p1 m1 a0",
			"202301 pension p1 m1 a0", "202301 medical p1 m1 a1"}
		if !reflect.DeepEqual(got, want) || total != 6 {
			t.Errorf("contributions of A: %d\n%v\nwant %v", total, got, want)
		}
		if sum.Persons != 2 || sum.Months != 6 || sum.Arrears != 1 {
			t.Errorf("sum: %+v", sum)
		}
		// The sums are the sums of the employees' contribution rows.
		var base, emp, ind, fee record.Fen
		for _, id := range []int{1, 2} {
			key, err := s.FindPerson(ctx, idNumber(id))
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.PersonRecord(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range v.Contributions {
				if c.Employer == a {
					base, emp, ind, fee = base+c.Base, emp+c.EmployerAmt, ind+c.IndividualAmt, fee+c.LateFee
				}
			}
		}
		if sum.Base != base || sum.EmployerAmt != emp || sum.IndividualAmt != ind || sum.LateFee != fee || base == 0 || emp == 0 {
			t.Errorf("sum %+v, want base %s employer %s individual %s fee %s", sum, base, emp, ind, fee)
		}
		rows, total, sum, err = s.EmployerContributions(ctx, a, store.EmployerContributionsFilter{Year: 2023, Type: record.Pension}, 1, 2)
		if err != nil || total != 4 || len(rows) != 2 || rows[0].Period != 202303 || rows[1].Period != 202302 || sum.Months != 4 || sum.Persons != 2 {
			t.Errorf("2023 pension, second page of 2: %d %+v %+v %v", total, rows, sum, err)
		}
		if _, _, _, err := s.EmployerContributions(ctx, a, store.EmployerContributionsFilter{Type: "dental"}, 0, 10); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("bad type: %v", err)
		}
		if _, _, _, err := s.EmployerContributions(ctx, a, store.EmployerContributionsFilter{}, 0, 0); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("limit 0: %v", err)
		}
	})
}

func TestPersonSearchReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		employerFixture(t, s)
		list, total, err := s.FindPersonsByName(ctx, " 张三 ", 0, 10)
		if err != nil || total != 2 || len(list) != 2 {
			t.Fatalf("by name: %d %+v %v", total, list, err)
		}
		if list[0].IDMasked != record.MaskID(idNumber(1)) || list[1].IDMasked != record.MaskID(idNumber(3)) || list[1].RegisteredOn != "2020-01-02" {
			t.Errorf("registration order, masked: %+v", list)
		}
		if list, total, err := s.FindPersonsByName(ctx, "张", 0, 10); err != nil || total != 0 || len(list) != 0 {
			t.Errorf("part of a name matches nobody: %d %+v %v", total, list, err)
		}
		if _, _, err := s.FindPersonsByName(ctx, "", 0, 10); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("empty name: %v", err)
		}
		key, _ := s.FindPerson(ctx, idNumber(3))
		if id, err := s.PersonIDNumber(ctx, key); err != nil || id != idNumber(3) {
			t.Errorf("PersonIDNumber: %q %v", id, err)
		}
		if _, err := s.PersonIDNumber(ctx, "nobody"); record.ErrorCode(err) != record.ENotFound {
			t.Errorf("unknown person: %v", err)
		}
	})
}
