// Package demo makes a deterministic synthetic dataset — valid ID numbers and credit codes, realistic wages
// and employers, several insurance types, years of monthly contributions, retirees with benefits — and records
// it through the same append path real intake uses (store.Record), never by writing tables. The same seed gives
// the same facts; memory is bounded by one batch, not by the number of persons.
package demo

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"sirec/internal/record"
	"sirec/internal/rules"
	"sirec/internal/store"
)

// Options say how much to make.
type Options struct {
	Persons   int
	Seed      uint64
	FromYear  int // first year of contributions
	Years     int // years of monthly contributions
	Types     []string
	BatchSize int // facts per append
	// Progress, when set, is told what is being done and how far it has come.
	Progress func(stage string, done, total int)
}

// Defaults fills unset options: six years from 2019, pension, medical and unemployment, 20,000 facts a batch.
func (o *Options) Defaults() {
	if o.FromYear == 0 {
		o.FromYear = 2019
	}
	if o.Years == 0 {
		o.Years = 6
	}
	if len(o.Types) == 0 {
		o.Types = []string{record.Pension, record.Medical, record.Unemployment}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 20000
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Persons < 1 || o.Persons > 50_000_000 {
		return record.Invalid("persons", "persons_range", "persons must be 1 to 50,000,000")
	}
	if o.FromYear < 1998 || o.Years < 1 || o.FromYear+o.Years > 2026 {
		return record.Invalid("years", "years_range", "contribution years must lie within 1998–2025")
	}
	for _, t := range o.Types {
		if err := record.ValidateInsuranceType("types", t); err != nil {
			return err
		}
	}
	return nil
}

// Summary tells what was recorded.
type Summary struct {
	Employers, Persons, Contributions, Retirees, Events int64
}

// regions are real district codes of one city (Beijing) that ID numbers and employers come from.
var regions = []string{"110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112", "110113"}

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var givenChars = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建国志文斌浩宇欣怡梓涵子轩雨泽思远嘉怡晨阳佳琪俊杰诗雨博文心怡子豪")
var companyWords = []string{"华信", "康达", "永安", "恒通", "瑞丰", "金桥", "百川", "润和", "中联", "宏远", "鼎盛", "天成", "新源", "博雅", "安和", "众诚"}
var companyKinds = []string{"科技", "建筑工程", "商贸", "物流", "医药", "食品", "信息技术", "文化传媒", "机械制造", "物业管理"}

// person is everything about person i, computed from the seed alone.
type person struct {
	id       string
	name     string
	male     bool
	birth    time.Time
	employer int // index into employers; -1 for flexible employment
	wage0    int64
	regOn    time.Time
	retire   record.Period // first month retired (no contributions from then on)
}

type generator struct {
	o         Options
	employers []string
	// idSpace is the number of distinct (region, birth day, sequence) triples; ids are a bijection of i.
	idSpace, idStep, idOffset uint64
	birthDays                 uint64
	birth0                    time.Time
}

func newGenerator(o Options) *generator {
	g := &generator{o: o}
	g.birth0 = time.Date(1958, 1, 1, 0, 0, 0, 0, time.UTC)
	g.birthDays = uint64(time.Date(2000, 12, 31, 0, 0, 0, 0, time.UTC).Sub(g.birth0).Hours()/24) + 1
	g.idSpace = uint64(len(regions)) * g.birthDays * 1000
	r := rand.New(rand.NewPCG(o.Seed, 0x1d))
	// A step coprime to the space makes i → (i*step + offset) mod space one-to-one.
	for {
		g.idStep = r.Uint64N(g.idSpace-1) + 1
		if gcd(g.idStep, g.idSpace) == 1 {
			break
		}
	}
	g.idOffset = r.Uint64N(g.idSpace)
	n := max(3, o.Persons/40)
	for j := 0; j < n; j++ {
		g.employers = append(g.employers, g.creditCode(j))
	}
	return g
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (g *generator) rng(kind, i uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.o.Seed^(kind*0x9e3779b97f4a7c15), i))
}

func (g *generator) creditCode(j int) string {
	r := g.rng(1, uint64(j))
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := []byte("91" + regions[j%len(regions)])
	for k := 0; k < 9; k++ {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return string(b) + string(record.USCCCheckChar(string(b)))
}

func (g *generator) employerFact(j int) *record.EmployerRegistered {
	r := g.rng(2, uint64(j))
	class := 1 + r.IntN(3)
	if r.IntN(10) == 0 {
		class = 4 + r.IntN(5)
	}
	return &record.EmployerRegistered{
		CreditCode:    g.employers[j],
		IndustryClass: class,
		Name:          "北京" + companyWords[r.IntN(len(companyWords))] + companyKinds[r.IntN(len(companyKinds))] + fmt.Sprintf("有限公司%s", branch(j)),
		Region:        g.employers[j][2:8],
		RegisteredOn:  time.Date(1995+r.IntN(20), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02"),
	}
}

func branch(j int) string {
	if j < len(companyWords)*len(companyKinds) {
		return ""
	}
	return fmt.Sprintf("第%d分公司", j/(len(companyWords)*len(companyKinds)))
}

func (g *generator) person(i int) person {
	x := (uint64(i)*g.idStep + g.idOffset) % g.idSpace
	seq := x % 1000
	x /= 1000
	day := x % g.birthDays
	region := regions[x/g.birthDays]
	birth := g.birth0.AddDate(0, 0, int(day))
	body := fmt.Sprintf("%s%s%03d", region, birth.Format("20060102"), seq)
	id := body + string(record.IDCheckChar(body))
	r := g.rng(3, uint64(i))
	name := string(surnames[r.IntN(len(surnames))]) + string(givenChars[r.IntN(len(givenChars))])
	if r.IntN(3) > 0 {
		name += string(givenChars[r.IntN(len(givenChars))])
	}
	p := person{id: id, name: name, male: seq%2 == 1, birth: birth}
	p.employer = r.IntN(len(g.employers))
	if r.IntN(20) == 0 {
		p.employer = -1
	}
	// Monthly wage around 11,000 yuan, skewed: most between 4,000 and 20,000, a few far above the ceiling.
	u := r.Float64()
	w := 4000 + int64(u*u*16000) + int64(r.IntN(1000))
	if r.IntN(50) == 0 {
		w = 30000 + int64(r.IntN(40000))
	}
	p.wage0 = w * 100
	start := time.Date(g.o.FromYear, 1, 1, 0, 0, 0, 0, time.UTC)
	adult := birth.AddDate(18, 0, 0)
	if adult.After(start) {
		start = time.Date(adult.Year(), adult.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	p.regOn = start.AddDate(0, 0, r.IntN(20))
	p.retire = retirement(birth, p.male, seq)
	return p
}

// retirement returns the month of retirement under the rules' 2025 reform (men 60 → 63, women 55 → 58; a
// twentieth of women on the 50 → 55 track): contributions stop before it and the pension starts in it.
func retirement(birth time.Time, male bool, seq uint64) record.Period {
	category := "male"
	if !male {
		category = "female_55"
		if seq%20 == 0 {
			category = "female_50"
		}
	}
	r, err := rules.Default().RetirementFor(record.MakePeriod(birth.Year(), int(birth.Month())), category)
	if err != nil {
		panic(err) // the built-in rules cover every category and every birth month the demo makes
	}
	return r.Retire
}

// pension computes the monthly pension of a demo retiree with the rules engine, from an estimate of a working
// life at the person's wage: contribution index = wage ÷ average wage, years from age 22 (at most 40), and the
// account those years would have built.
func (g *generator) pension(p *person) int64 {
	set := rules.Default()
	avg := set.AverageMonthlyWage()
	wage := min(max(p.wage0, int64(avg)*6/10), int64(avg)*3)
	ageMonths := p.retire.Index() - record.MakePeriod(p.birth.Year(), int(p.birth.Month())).Index()
	months := min(max((ageMonths/12-22)*12, 180), 480)
	c, ok := set.BenefitWage(p.retire.Year() - 1)
	if !ok {
		c = avg
	}
	out, err := set.Pension(rules.PensionInput{BenefitWage: c, Index: big.NewRat(wage, int64(avg)), Months: months,
		Balance: record.Fen(int64(months) * wage * 8 / 100), Age: ageMonths / 12, AgeMonths: ageMonths % 12})
	if err != nil {
		panic(err)
	}
	return int64(out.Total)
}

// wage returns person p's declared wage in year y: 5 % growth a year from the first year.
func (g *generator) wage(p *person, y int) int64 {
	w := p.wage0
	for k := g.o.FromYear; k < y; k++ {
		w = w * 105 / 100
	}
	return w / 100 * 100
}

// Recorder takes the dataset's facts, a batch at a time: a *store.Store, or (to measure the generator alone)
// anything that counts them.
type Recorder interface {
	Record(ctx context.Context, source string, facts []record.Fact) (store.Receipt, error)
}

// Generate records the dataset into s.
func Generate(ctx context.Context, s Recorder, o Options) (Summary, error) {
	o.Defaults()
	if err := o.Validate(); err != nil {
		return Summary{}, err
	}
	g := newGenerator(o)
	var sum Summary
	progress := func(stage string, done, total int) {
		if o.Progress != nil {
			o.Progress(stage, done, total)
		}
	}
	var batch []record.Fact
	flush := func(source string) error {
		if len(batch) == 0 {
			return nil
		}
		rc, err := s.Record(ctx, source, batch)
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		sum.Events += rc.Count
		batch = batch[:0]
		return nil
	}
	add := func(source string, f record.Fact) error {
		batch = append(batch, f)
		if len(batch) >= o.BatchSize {
			return flush(source)
		}
		return nil
	}

	for j := range g.employers {
		if err := add("demo:employers", g.employerFact(j)); err != nil {
			return sum, err
		}
		sum.Employers++
	}
	if err := flush("demo:employers"); err != nil {
		return sum, err
	}
	first := record.MakePeriod(o.FromYear, 1)
	last := record.MakePeriod(o.FromYear+o.Years-1, 12)
	for i := 0; i < o.Persons; i++ {
		p := g.person(i)
		r := g.rng(4, uint64(i))
		reg := &record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: p.id}, Name: p.name, Region: p.id[:6],
			RegisteredOn: p.regOn.Format("2006-01-02"), Phone: fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1e9))}
		if err := add("demo:registrations", reg); err != nil {
			return sum, err
		}
		if p.retire <= first {
			// Already retired before the demo's years: no enrolment, only eligibility and benefits below.
		} else {
			for _, t := range o.Types {
				e := &record.EnrolmentStarted{PersonRef: record.PersonRef{IDNumber: p.id}, Type: t, From: reg.RegisteredOn}
				if p.employer >= 0 {
					e.Employer = g.employers[p.employer]
				}
				if err := add("demo:registrations", e); err != nil {
					return sum, err
				}
			}
		}
		if p.birth.Year() < 1970 {
			if err := add("demo:registrations", &record.DeemedRecorded{PersonRef: record.PersonRef{IDNumber: p.id},
				From: record.MakePeriod(max(p.birth.Year()+20, 1985), 1), To: 199712, Basis: "1998年前国有企业连续工龄（视同缴费）"}); err != nil {
				return sum, err
			}
		}
		if i%997 == 13 {
			if err := add("demo:registrations", &record.AccountTransferred{PersonRef: record.PersonRef{IDNumber: p.id},
				Direction: "in", OtherRegion: "310101", Period: first, Amount: int64(20000+r.IntN(60000)) * 100}); err != nil {
				return sum, err
			}
		}
		if i%1009 == 7 {
			if err := add("demo:registrations", &record.OtherRecorded{PersonRef: record.PersonRef{IDNumber: p.id},
				Kind: "household_type", Attributes: map[string]string{"户籍类型": "本市城镇", "note": "demo"}}); err != nil {
				return sum, err
			}
		}
		sum.Persons++
		progress("registrations", i+1, o.Persons)
	}
	if err := flush("demo:registrations"); err != nil {
		return sum, err
	}

	months := last.Index() - first.Index() + 1
	for m := 0; m < months; m++ {
		period := first.AddMonths(m)
		source := "demo:batch:" + period.String()
		for i := 0; i < o.Persons; i++ {
			p := g.person(i)
			if period >= p.retire || period < record.MakePeriod(p.regOn.Year(), int(p.regOn.Month())) {
				continue
			}
			r := g.rng(5, uint64(i)*1000+uint64(m))
			status, late := record.StatusPaid, 0
			if r.IntN(200) == 0 {
				status, late = record.StatusArrears, 10+r.IntN(80)
			}
			for _, t := range o.Types {
				c := &record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: p.id}, Period: period, Type: t,
					Status: status, LateDays: late, Wage: g.wage(&p, period.Year())}
				if p.employer >= 0 {
					c.Employer = g.employers[p.employer]
				}
				if err := add(source, c); err != nil {
					return sum, err
				}
				sum.Contributions++
			}
			if p.employer < 0 && period.Month() == 12 && r.IntN(2) == 0 {
				if err := add(source, &record.SubsidyGranted{PersonRef: record.PersonRef{IDNumber: p.id}, Type: record.Pension,
					Kind: "灵活就业社会保险补贴", Period: period, Amount: 120000}); err != nil {
					return sum, err
				}
			}
			if period.AddMonths(1) == p.retire {
				if err := g.retire(add, source, &p, period); err != nil {
					return sum, err
				}
				sum.Retirees++
			}
		}
		if err := flush(source); err != nil {
			return sum, err
		}
		progress("contributions "+period.String(), m+1, months)
	}
	// Persons retired before the demo's years, and those retired during it: a pension each month.
	source := "demo:benefits"
	for i := 0; i < o.Persons; i++ {
		p := g.person(i)
		if p.retire > last {
			continue
		}
		if p.retire <= first {
			if err := g.grant(add, source, &p); err != nil {
				return sum, err
			}
			sum.Retirees++
		}
		amount := g.pension(&p)
		for period := max(p.retire, first); period <= last; period = period.AddMonths(1) {
			if err := add(source, &record.BenefitPaid{PersonRef: record.PersonRef{IDNumber: p.id}, Kind: "retirement", Period: period, Amount: amount}); err != nil {
				return sum, err
			}
		}
		progress("benefits", i+1, o.Persons)
	}
	if err := flush(source); err != nil {
		return sum, err
	}
	return sum, nil
}

// retire stops the person's enrolments and grants retirement eligibility.
func (g *generator) retire(add func(string, record.Fact) error, source string, p *person, lastPaid record.Period) error {
	to := time.Date(lastPaid.Year(), time.Month(lastPaid.Month()), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, -1).Format("2006-01-02")
	for _, t := range g.o.Types {
		e := &record.EnrolmentStopped{PersonRef: record.PersonRef{IDNumber: p.id}, Type: t, To: to, Reason: "退休"}
		if p.employer >= 0 {
			e.Employer = g.employers[p.employer]
		}
		if err := add(source, e); err != nil {
			return err
		}
	}
	return g.grant(add, source, p)
}

func (g *generator) grant(add func(string, record.Fact) error, source string, p *person) error {
	return add(source, &record.EligibilityGranted{PersonRef: record.PersonRef{IDNumber: p.id}, Kind: "retirement",
		From: fmt.Sprintf("%d-%02d-01", p.retire.Year(), p.retire.Month()), Decision: fmt.Sprintf("京人社退字〔%d〕%06d号", p.retire.Year(), g.rng(6, 0).IntN(999999))})
}

// IDNumber returns the citizen ID number of demo person i for a seed, so that a newcomer or a test can look
// a demo person up.
func IDNumber(seed uint64, i int) string {
	g := newGenerator(Options{Persons: 1, Seed: seed})
	return g.person(i).id
}

// IDNumbers returns the citizen ID numbers of demo persons 0 to n-1 for a seed.
func IDNumbers(seed uint64, n int) []string {
	g := newGenerator(Options{Persons: 1, Seed: seed})
	out := make([]string, n)
	for i := range out {
		out[i] = g.person(i).id
	}
	return out
}
