package store

import (
	"encoding/json"
	"testing"

	"sirec/internal/record"
)

// The short cut for contributions writes exactly what encoding/json writes (the journal's bytes depend on it).
func TestContributionJSONIsEncodingJSON(t *testing.T) {
	if !contributionJSONFast {
		t.Fatal("record.ContributionPosted changed: update contributionJSON and its field list")
	}
	cases := []record.ContributionPosted{
		{Employer: "91350100M000100Y43", Period: 202401, Status: "paid", Type: "pension", Wage: 800000},
		{Period: 199801, Status: "due", Type: "medical", Wage: 1},
		{Employer: "X", LateDays: 12, Period: 202412, Status: "arrears", Type: "work_injury", Wage: -5},
		{Employer: "a<b", Period: 202401, Status: "paid", Type: "pension", Wage: 1},
		{Employer: "新", Period: 202401, Status: "p\"aid", Type: "pen\\sion", Wage: 1},
		{Employer: "ok", Period: 202401, Status: "\x01", Type: "x&y", Wage: 1 << 60},
		{PersonRef: record.PersonRef{IDNumber: "11010519491231002X", Person: "p"}, Period: 202401, Type: "pension"},
	}
	for _, c := range cases {
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := factJSON(&c)
		if err != nil || string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", c, got, want)
		}
	}
}

func TestChunkBounds(t *testing.T) {
	for _, n := range []int{0, 1, firstChunk, firstChunk + 1, appendChunk - 1, appendChunk, appendChunk + 1, 3*appendChunk + 17} {
		b := chunkBounds(n)
		if b[0] != 0 || b[len(b)-1] != n {
			t.Fatalf("%d: %v", n, b)
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] || b[i]-b[i-1] > appendChunk {
				t.Fatalf("%d: %v", n, b)
			}
		}
		if n > firstChunk && b[1] != firstChunk {
			t.Fatalf("%d: first chunk %v", n, b)
		}
	}
}
