package record

import (
	"fmt"
	"strings"
	"time"
)

// Event types of a record's transfer between regions (转移接续, R10).
const (
	TypeTransferredOut = "transfer.out" // 转出: the record was transferred to another region's agency
	TypeTransferredIn  = "transfer.in"  // 转入: a record transferred in from another region's agency
)

// PersonTransferredOut is a person's status once their record has been transferred out: the record stays
// readable and verifiable at the origin, and takes no new contributions.
const PersonTransferredOut = "transferred_out"

// TransferredOut closes a person's record at this agency: it has been transferred to another region (R10) in
// the package Package. The personal account moves by the account.transferred event recorded with it; PooledFund
// is the pooled-fund amount (统筹基金) the rules gave at transfer, transferred between the agencies' funds.
type TransferredOut struct {
	PersonRef
	Destination string `json:"destination"`
	Package     string `json:"package"`
	Period      Period `json:"period"`
	PooledFund  int64  `json:"pooled_fund"`
	Reason      string `json:"reason"`
}

func (*TransferredOut) EventType() string { return TypeTransferredOut }

func (f *TransferredOut) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := ValidateRegion("destination", f.Destination); err != nil {
		return err
	}
	if err := ValidatePackageID("package", f.Package); err != nil {
		return err
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if f.PooledFund < 0 {
		return Invalid("pooled_fund", "amount_non_negative", "the pooled-fund amount cannot be negative")
	}
	return requireText("reason", f.Reason)
}

// TransferredMonth is one contribution month carried by a transfer: the insurance type, the month, the
// contribution base the origin's rules gave it and, for a pension month, the average monthly wage of its year
// the origin indexed that base against. At the destination it counts as a month paid (contribution years) and
// in the average contribution index, but credits no account: the account moves as a whole.
type TransferredMonth struct {
	Base      int64  `json:"base"`
	IndexWage int64  `json:"index_wage"`
	Period    Period `json:"period"`
	Type      string `json:"type"`
}

// TransferredIn records a rights record transferred in from another region (R10), from the verified package
// Package: the contribution months it carries (each month paid at the origin, with its base). The personal
// account arrives by the account.transferred event recorded with it, the deemed periods by deemed.recorded
// events; Period is the month the origin struck the balance.
type TransferredIn struct {
	PersonRef
	Months     []TransferredMonth `json:"months"`
	Origin     string             `json:"origin"`
	Package    string             `json:"package"`
	Period     Period             `json:"period"`
	PooledFund int64              `json:"pooled_fund"`
}

func (*TransferredIn) EventType() string { return TypeTransferredIn }

func (f *TransferredIn) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := ValidateRegion("origin", f.Origin); err != nil {
		return err
	}
	if err := ValidatePackageID("package", f.Package); err != nil {
		return err
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if f.PooledFund < 0 {
		return Invalid("pooled_fund", "amount_non_negative", "the pooled-fund amount cannot be negative")
	}
	seen := make(map[string]bool, len(f.Months))
	for i, m := range f.Months {
		field := fmt.Sprintf("months[%d]", i)
		if err := m.Period.Validate(field + ".period"); err != nil {
			return err
		}
		if err := ValidateInsuranceType(field+".type", m.Type); err != nil {
			return err
		}
		if m.Base <= 0 {
			return Invalid(field+".base", "base_positive", "a transferred month's contribution base must be more than 0")
		}
		if m.IndexWage < 0 || (m.Type == Pension && m.IndexWage == 0) {
			return Invalid(field+".index_wage", "index_wage_positive", "a transferred pension month needs the average wage its base was indexed against")
		}
		key := m.Type + "/" + m.Period.String()
		if seen[key] {
			return Invalid(field, "month_once", "%s month %s is listed twice", m.Type, m.Period)
		}
		seen[key] = true
	}
	return nil
}

// ValidatePackageID checks a transfer package id: the origin's region code, a hyphen and the origin's transfer
// number, e.g. "110105-T000042".
func ValidatePackageID(field, id string) error {
	region, num, ok := strings.Cut(id, "-")
	if !ok || ValidateRegion(field, region) != nil || len(num) < 2 || len(num) > 20 || num[0] != 'T' || !digits(num[1:]) {
		return Invalid(field, "package_id", "%q is not a transfer package id such as 110105-T000042", id)
	}
	return nil
}
