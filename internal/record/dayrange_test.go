package record_test

import (
	"errors"
	"testing"
	"time"

	"sirec/internal/record"
)

func TestDayRange(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	start, end, err := record.DayRange("2024-05-01", "2024-05-01", shanghai)
	if err != nil || !start.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, shanghai)) || !end.Equal(time.Date(2024, 5, 2, 0, 0, 0, 0, shanghai)) {
		t.Fatalf("one day: %v – %v, %v", start, end, err)
	}
	if start, end, err := record.DayRange("", "", time.UTC); err != nil || !start.IsZero() || !end.IsZero() {
		t.Fatalf("no bounds: %v – %v, %v", start, end, err)
	}
	var es record.Errors
	if _, _, err := record.DayRange("2024-13-01", "05/01/2024", time.UTC); !errors.As(err, &es) || len(es) != 2 || es[0].Field != "from" || es[1].Field != "to" || es[0].Rule != "date_format" {
		t.Fatalf("two bad dates: %v", err)
	}
	if _, _, err := record.DayRange("2024-05-02", "2024-05-01", time.UTC); !errors.As(err, &es) || len(es) != 1 || es[0].Field != "to" || es[0].Rule != "date_order" {
		t.Fatalf("an end before the start: %v", err)
	}
}
