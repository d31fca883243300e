package rules

import (
	"encoding/json"
	"strings"
	"testing"

	"sirec/internal/record"
)

func credits12(s string) string {
	return `["` + strings.TrimSuffix(strings.Repeat(s+`","`, 12), `","`) + `"]`
}

// The calculators' contracts: the examples byte for byte.
func TestCalcExamples(t *testing.T) {
	b := NewBook()
	if err := b.Add(beijing(t)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, calc, in, want string
	}{
		{"pension example", "pension",
			`{"avg_wage":"5000.00","index":"1.0","months":180,"account_balance":"72000.00","retire_age":60}`,
			`{"payout_months":139,"basic_pension":"750.00","account_pension":"517.99","transitional_pension":"0.00","total":"1267.99","rule_set":"national-default-1"}`},
		{"pension D with deemed months", "pension",
			`{"avg_wage":"11082.00","index":"0.6","months":360,"deemed_months":120,"account_balance":"100000.00","retire_age":60,"retire_age_months":0}`,
			// transitional 1.3 % × 11,082 × 0.6 × 10 = 864.396 → 864.40
			`{"payout_months":139,"basic_pension":"3546.24","account_pension":"719.42","transitional_pension":"864.40","total":"5130.06","rule_set":"national-default-1"}`},
		{"account monthly", "account",
			`{"opening_balance":"100000.00","year":2024,"credits":` + credits12("640.00") + `,"method":"monthly"}`,
			`{"closing_balance":"110408.99","interest":"2728.99","credits_total":"7680.00","rate":"2.62%","provisional":false,"method":"monthly","rule_set":"national-default-1"}`},
		{"account annual", "account",
			`{"opening_balance":"100000.00","year":2024,"credits":` + credits12("640.00") + `,"method":"annual"}`,
			`{"closing_balance":"110408.96","interest":"2728.96","credits_total":"7680.00","rate":"2.62%","provisional":false,"method":"annual","rule_set":"national-default-1"}`},
		{"account with a rate", "account",
			`{"opening_balance":"100000.00","rate":"0.0262","credits":` + credits12("640.00") + `,"method":"annual"}`,
			`{"closing_balance":"110408.96","interest":"2728.96","credits_total":"7680.00","rate":"2.62%","provisional":false,"method":"annual","rule_set":"national-default-1"}`},
		{"account in an unpublished year", "account",
			`{"opening_balance":"1000.00","year":2025,"credits":` + credits12("0") + `}`,
			`{"closing_balance":"1026.20","interest":"26.20","credits_total":"0.00","rate":"2.62%","provisional":true,"method":"monthly","rule_set":"national-default-1"}`},
		{"contribution explicit", "contribution",
			`{"wage":"2575.00","type":"unemployment","floor":"2000","ceiling":"20000","employer_rate":"0.5%","individual_rate":"0.5%"}`,
			`{"type":"unemployment","base":"2575.00","employer":"12.88","individual":"12.88","floor":"2000.00","ceiling":"20000.00","employer_rate":"0.5%","individual_rate":"0.5%","rule_set":"explicit"}`},
		{"contribution medical", "contribution",
			`{"wage":"4212","type":"medical","period":"202501"}`,
			`{"type":"medical","base":"4212.00","employer":"315.90","individual":"84.24","floor":"3269.00","ceiling":"16346.00","employer_rate":"7.5%","individual_rate":"2%","rule_set":"national-default-1"}`},
		{"contribution Beijing", "contribution",
			`{"wage":"40000","region":"110105","period":"202508"}`,
			`{"type":"pension","base":"35811.00","employer":"5729.76","individual":"2864.88","floor":"7162.00","ceiling":"35811.00","employer_rate":"16%","individual_rate":"8%","rule_set":"national-default-1+beijing-2025.1"}`},
		{"contribution work injury class", "contribution",
			`{"wage":"8000","type":"work_injury","industry_class":8,"period":"2025-01"}`,
			`{"type":"work_injury","base":"8000.00","employer":"152.00","individual":"0.00","floor":"3269.00","ceiling":"16346.00","employer_rate":"1.9%","individual_rate":"0%","rule_set":"national-default-1"}`},
		{"retirement example", "retirement",
			`{"birth":"1965-01","category":"male"}`,
			`{"retire":"2025-02","age_years":60,"age_months":1,"delay_months":1,"min_contribution_months":180,"rule_set":"national-default-1"}`},
		{"retirement 1976-12", "retirement",
			`{"birth":"1976-12","category":"male","contribution_months":239}`,
			`{"retire":"2039-12","age_years":63,"age_months":0,"delay_months":36,"min_contribution_months":240,"eligible":false,"rule_set":"national-default-1"}`},
		{"retirement female_50", "retirement",
			`{"birth":"1975-03","category":"female_50","contribution_months":180}`,
			`{"retire":"2025-05","age_years":50,"age_months":2,"delay_months":2,"min_contribution_months":180,"eligible":true,"rule_set":"national-default-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Calc(b, tt.calc, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Fatalf("\n got %s\nwant %s", out, tt.want)
			}
		})
	}
}

func TestCalcInvalid(t *testing.T) {
	b := NewBook()
	pension := func(drop, add string) string {
		m := map[string]any{"avg_wage": "5000.00", "index": "1.0", "months": 180, "account_balance": "72000.00", "retire_age": 60}
		delete(m, drop)
		if add != "" {
			k, v, _ := strings.Cut(add, "=")
			var x any
			json.Unmarshal([]byte(v), &x)
			m[k] = x
		}
		j, _ := json.Marshal(m)
		return string(j)
	}
	account := `{"opening_balance":"100000.00","year":2024,"credits":` + credits12("640.00") + `}`
	tests := []struct {
		name, calc, in, field, rule string
	}{
		{"pension: retire_age missing", "pension", pension("retire_age", ""), "retire_age", "required"},
		{"pension: avg_wage missing", "pension", pension("avg_wage", ""), "avg_wage", "required"},
		{"pension: index missing", "pension", pension("index", ""), "index", "required"},
		{"pension: months missing", "pension", pension("months", ""), "months", "required"},
		{"pension: balance missing", "pension", pension("account_balance", ""), "account_balance", "required"},
		{"pension: bad index", "pension", pension("index", `index="1,0"`), "index", "decimal_format"},
		{"pension: negative index", "pension", pension("index", `index="-1"`), "index", "decimal_format"},
		{"pension: money as a number", "pension", pension("avg_wage", `avg_wage=5000`), "avg_wage", "json_type"},
		{"pension: months as a string", "pension", pension("months", `months="180"`), "months", "json_type"},
		{"pension: bad money", "pension", pension("avg_wage", `avg_wage="5000.001"`), "avg_wage", "money_format"},
		{"pension: negative balance", "pension", pension("account_balance", `account_balance="-1.00"`), "account_balance", "money_range"},
		{"pension: age out of the table", "pension", pension("retire_age", `retire_age=75`), "retire_age", "payout_age_range"},
		{"pension: age months 12", "pension", pension("", `retire_age_months=12`), "retire_age_months", "number_range"},
		{"pension: unknown field", "pension", pension("", `retire_months=1`), "retire_months", "unknown_field"},
		{"pension: bad region", "pension", pension("", `region="1100"`), "region", "region_code"},
		{"account: 11 credits", "account", `{"opening_balance":"0.00","year":2024,"credits":["1","1","1","1","1","1","1","1","1","1","1"]}`, "credits", "credits_count"},
		{"account: no credits", "account", `{"opening_balance":"0.00","year":2024}`, "credits", "credits_count"},
		{"account: bad credit", "account", strings.Replace(account, `"640.00"`, `"6.400"`, 1), "credits[0]", "money_format"},
		{"account: year and rate", "account", strings.Replace(account, `"year":2024`, `"year":2024,"rate":"2%"`, 1), "rate", "one_of"},
		{"account: neither year nor rate", "account", strings.Replace(account, `"year":2024,`, ``, 1), "year", "required"},
		{"account: bad method", "account", strings.Replace(account, `"year":2024`, `"year":2024,"method":"daily"`, 1), "method", "interest_method"},
		{"account: bad rate", "account", strings.Replace(account, `"year":2024`, `"rate":"2.62 %"`, 1), "rate", "rate_format"},
		{"account: opening missing", "account", strings.Replace(account, `"opening_balance":"100000.00",`, ``, 1), "opening_balance", "required"},
		{"contribution: wage missing", "contribution", `{"period":"202501"}`, "wage", "required"},
		{"contribution: no period", "contribution", `{"wage":"1000"}`, "period", "required"},
		{"contribution: bad period", "contribution", `{"wage":"1000","period":"2025-13"}`, "period", "period_format"},
		{"contribution: explicit without ceiling", "contribution", `{"wage":"1000","floor":"1","employer_rate":"1%","individual_rate":"1%"}`, "ceiling", "required"},
		{"contribution: explicit and region", "contribution", `{"wage":"1000","region":"110000","floor":"1","ceiling":"2","employer_rate":"1%","individual_rate":"1%"}`, "region", "one_of"},
		{"contribution: floor above ceiling", "contribution", `{"wage":"1000","floor":"3","ceiling":"2","employer_rate":"1%","individual_rate":"1%"}`, "floor", "floor_not_above_ceiling"},
		{"contribution: rate above 100%", "contribution", `{"wage":"1000","floor":"1","ceiling":"2","employer_rate":"101%","individual_rate":"1%"}`, "employer_rate", "rate_range"},
		{"contribution: bad type", "contribution", `{"wage":"1000","period":"202501","type":"life"}`, "type", "insurance_type"},
		{"contribution: class 9", "contribution", `{"wage":"1000","period":"202501","industry_class":9}`, "industry_class", "number_range"},
		{"retirement: bad birth month", "retirement", `{"birth":"1965-13","category":"male"}`, "birth", "month_format"},
		{"retirement: birth without dash", "retirement", `{"birth":"196501","category":"male"}`, "birth", "month_format"},
		{"retirement: birth as a date", "retirement", `{"birth":"1965-01-01","category":"male"}`, "birth", "month_format"},
		{"retirement: birth missing", "retirement", `{"category":"male"}`, "birth", "required"},
		{"retirement: bad category", "retirement", `{"birth":"1965-01","category":"female"}`, "category", "retirement_category"},
		{"retirement: category missing", "retirement", `{"birth":"1965-01"}`, "category", "required"},
		{"not JSON", "retirement", `{"birth":`, "", "json_syntax"},
		{"empty", "retirement", ``, "", "required"},
		{"an array", "retirement", `[]`, "", "json_type"},
		{"two objects", "retirement", `{"birth":"1965-01","category":"male"} {}`, "", "json_syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Calc(b, tt.calc, []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; output %s", out)
			}
			wantInvalid(t, err, tt.field, tt.rule)
		})
	}
	if _, err := Calc(b, "salary", []byte(`{}`)); record.ErrorCode(err) != record.ENotFound {
		t.Fatalf("unknown calculator: %v", err)
	}
}
