package record

import "time"

// DayRange reads a range of whole days written YYYY-MM-DD, as search filters take them: from (its first
// instant, in loc) and to (inclusive: the range ends at the start of the next day). Either may be empty, for no
// bound. A date written otherwise is an error naming its field, from or to; so is an end before the start.
func DayRange(from, to string, loc *time.Location) (start, end time.Time, err error) {
	var errs Errors
	for _, d := range []struct {
		field, text string
		into        *time.Time
		add         int
	}{{"from", from, &start, 0}, {"to", to, &end, 1}} {
		if d.text == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", d.text, loc)
		if err != nil {
			errs.Append("", Invalid(d.field, "date_format", "%q is not a date written YYYY-MM-DD", d.text))
			continue
		}
		*d.into = t.AddDate(0, 0, d.add)
	}
	if len(errs) == 0 && !start.IsZero() && !end.IsZero() && !end.After(start) {
		errs.Append("", Invalid("to", "date_order", "the range ends (%s) before it starts (%s)", to, from))
	}
	return start, end, errs.Err()
}
