package store

import (
	"sirec/internal/record"
	"sirec/internal/rules"
)

// bookRules is the Rules of the rules engine: a book of rule sets, starting with the built-in national default.
type bookRules struct{ book *rules.Book }

// DefaultRules returns the rules engine holding only the built-in national default rule set.
func DefaultRules() Rules { return &bookRules{book: rules.NewBook()} }

// Book returns the rule sets the store's rules hold now.
func (s *Store) Book() *rules.Book {
	if br, ok := s.rules.(*bookRules); ok {
		return br.book
	}
	return rules.NewBook()
}

func (r *bookRules) Fresh() Rules { return DefaultRules() }

func (r *bookRules) Contribution(region string, p record.Period, typ string, industryClass int, wage int64, status string, lateDays int) (ContributionFigures, error) {
	set := r.book.At(region, p)
	a, err := set.Contribution(typ, record.Fen(wage), industryClass)
	if err != nil {
		return ContributionFigures{}, err
	}
	// The same figures rules.Deriver gives (a test holds them equal): only a paid pension month credits the
	// account; days late cost a late fee whatever the month's state.
	f := ContributionFigures{Base: int64(a.Base), Employer: int64(a.Employer), Individual: int64(a.Individual)}
	if typ == record.Pension && status == record.StatusPaid {
		f.AccountCredit = int64(set.AccountCredit(p, a.Base))
	}
	if lateDays > 0 {
		f.LateFee = int64(set.LateFee(a.Employer+a.Individual, lateDays))
	}
	return f, nil
}

func (r *bookRules) Adopt(body []byte) (string, record.Period, string, error) {
	set, err := rules.ParseSet(body)
	if err != nil {
		return "", 0, "", err
	}
	if err := r.book.Add(set); err != nil {
		return "", 0, "", err
	}
	return set.Region(), set.EffectiveFrom(), set.Version(), nil
}
