package statement

import (
	"fmt"
	"strconv"
	"time"

	"sirec/internal/pdf"
	"sirec/internal/record"
)

// Chinese names for the printed documents.
var (
	TypeNames    = map[string]string{record.Pension: "养老保险", record.Medical: "医疗保险", record.Unemployment: "失业保险", record.WorkInjury: "工伤保险", record.Maternity: "生育保险"}
	StatusNames  = map[string]string{record.StatusPaid: "实缴", record.StatusDue: "应缴", record.StatusArrears: "欠缴"}
	BenefitNames = map[string]string{"retirement": "基本养老金", "unemployment": "失业保险金", "work_injury": "工伤保险待遇", "maternity": "生育津贴", "medical": "医疗保险待遇"}
	SexNames     = map[string]string{"male": "男", "female": "女"}
	PersonStatus = map[string]string{"active": "正常参保", "deceased": "已死亡", "deregistered": "已注销"}
)

func name(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// Section titles of the printed statement; tests look for them in the extracted text.
var Sections = []string{"一、个人基本信息", "二、参保情况", "三、本年度缴费明细", "四、本年度补贴和待遇领取", "五、个人账户（基本养老保险）", "六、缴费年限（截至年末）"}

func title(st *Statement) string {
	return fmt.Sprintf("社会保险个人权益记录单（%d年度）", st.Year)
}

func footer(st *Statement) string {
	return fmt.Sprintf("%s · %s · %d年度", "社会保险个人权益记录单", st.IDMasked, st.Year)
}

// Render prints a statement as PDF: A4, Chinese, one section per part of the record.
func Render(f *pdf.Fonts, st *Statement, loc *time.Location) ([]byte, error) {
	d, err := pdf.New(f, pdf.Info{Title: title(st), Subject: "Personal rights statement " + strconv.Itoa(st.Year), Created: st.IssuedAt, Footer: footer(st)})
	if err != nil {
		return nil, err
	}
	RenderInto(d, st, loc)
	return d.Bytes()
}

// Batch prints many statements into one PDF — each starting on a new page, with its own footer and page
// numbers — for a print run: the fonts are embedded once for all of them. It returns the document and the page
// each statement starts on (from 1).
func Batch(f *pdf.Fonts, sts []*Statement, loc *time.Location) ([]byte, []int, error) {
	if len(sts) == 0 {
		return nil, nil, nil
	}
	d, err := pdf.New(f, pdf.Info{Title: fmt.Sprintf("社会保险个人权益记录单（%d年度）%d 份", sts[0].Year, len(sts)), Created: sts[0].IssuedAt, Footer: footer(sts[0])})
	if err != nil {
		return nil, nil, err
	}
	starts := make([]int, len(sts))
	for i, st := range sts {
		if i > 0 {
			d.NextPart(footer(st))
		}
		starts[i] = d.Pages()
		RenderInto(d, st, loc)
	}
	b, err := d.Bytes()
	return b, starts, err
}

// RenderInto prints a statement into d, from where d stands.
func RenderInto(d *pdf.Doc, st *Statement, loc *time.Location) {
	if loc == nil {
		loc = time.Local
	}
	title := title(st)
	d.Title(title, 16)
	d.Centered(fmt.Sprintf("Personal social insurance rights statement %d · 生成时间 %s · 金额单位：元", st.Year, st.IssuedAt.In(loc).Format("2006-01-02 15:04")), 8)
	d.Space(4)

	d.Heading(Sections[0])
	d.Pairs([]pdf.Pair{{Label: "姓名", Value: st.Name}, {Label: "公民身份号码", Value: st.IDMasked},
		{Label: "性别", Value: name(SexNames, st.Sex)}, {Label: "出生日期", Value: st.Birth},
		{Label: "参保地", Value: st.Region}, {Label: "登记日期", Value: st.RegisteredOn},
		{Label: "人员状态", Value: name(PersonStatus, st.Status)}})

	d.Heading(Sections[1])
	if len(st.Enrolments) == 0 {
		d.Para("本年度无参保关系。", 10)
	} else {
		var rows [][]string
		for _, e := range st.Enrolments {
			emp := e.Employer
			if emp == "" {
				emp = "灵活就业"
			}
			to := e.To
			if to == "" {
				to = "—"
			}
			rows = append(rows, []string{name(TypeNames, e.Type), emp, e.From, to})
		}
		d.Table([]pdf.Col{{Title: "险种", Width: 0.2}, {Title: "用人单位（统一社会信用代码）", Width: 0.4}, {Title: "参保起始", Width: 0.2}, {Title: "参保终止", Width: 0.2}}, rows)
	}

	d.Heading(Sections[2])
	if len(st.Contributions) == 0 {
		d.Para("本年度无缴费记录。", 10)
	}
	for _, ty := range st.Contributions {
		d.Ensure(60)
		d.TextAt(0, fmt.Sprintf("%s：实缴 %d 个月，欠缴 %d 个月", name(TypeNames, ty.Type), ty.Paid, ty.Arrears), 10)
		var rows [][]string
		for _, c := range ty.Months {
			rows = append(rows, []string{c.Period.String(), name(StatusNames, c.Status), c.Base.String(), c.EmployerAmt.String(), c.IndividualAmt.String(),
				c.AccountCredit.String(), c.LateFee.String()})
		}
		rows = append(rows, []string{"合计", "", ty.Base.String(), ty.Employer.String(), ty.Individual.String(), ty.Credit.String(), ty.LateFee.String()})
		d.Table([]pdf.Col{{Title: "所属期", Width: 0.12}, {Title: "缴费状态", Width: 0.1}, {Title: "缴费基数", Width: 0.16, Right: true},
			{Title: "单位缴费", Width: 0.16, Right: true}, {Title: "个人缴费", Width: 0.16, Right: true},
			{Title: "记入个人账户", Width: 0.18, Right: true}, {Title: "滞纳金", Width: 0.12, Right: true}}, rows)
	}

	d.Heading(Sections[3])
	if len(st.Subsidies) == 0 && len(st.Benefits) == 0 {
		d.Para("本年度无补贴和待遇领取记录。", 10)
	}
	if len(st.Subsidies) > 0 {
		var rows [][]string
		for _, x := range st.Subsidies {
			rows = append(rows, []string{x.Period.String(), name(TypeNames, x.Type), x.Kind, x.Amount.String()})
		}
		rows = append(rows, []string{"合计", "", "", st.SubsidyTotal.String()})
		d.Table([]pdf.Col{{Title: "所属期", Width: 0.2}, {Title: "险种", Width: 0.25}, {Title: "补贴类别", Width: 0.3}, {Title: "金额（元）", Width: 0.25, Right: true}}, rows)
	}
	if len(st.Benefits) > 0 {
		var rows [][]string
		for _, b := range st.Benefits {
			rows = append(rows, []string{b.Period.String(), name(BenefitNames, b.Kind), b.Amount.String()})
		}
		rows = append(rows, []string{"合计", "", st.BenefitTotal.String()})
		d.Table([]pdf.Col{{Title: "所属期", Width: 0.3}, {Title: "待遇类别", Width: 0.4}, {Title: "金额（元）", Width: 0.3, Right: true}}, rows)
	}

	d.Heading(Sections[4])
	if a := st.Account; a == nil {
		d.Para("无个人账户记录。", 10)
	} else {
		rate := a.Rate
		if a.Provisional {
			rate += "（暂按上年利率）"
		}
		d.Pairs([]pdf.Pair{{Label: "年初余额", Value: a.Opening.String() + " 元"}, {Label: "本年记账", Value: a.Credits.String() + " 元"},
			{Label: "本年转入", Value: a.TransfersIn.String() + " 元"}, {Label: "本年转出", Value: a.TransfersOut.String() + " 元"},
			{Label: "本年利息", Value: a.Interest.String() + " 元"}, {Label: "记账利率", Value: rate},
			{Label: "年末余额", Value: a.Closing.String() + " 元"}})
		if len(st.AccountCredits) > 0 {
			var rows [][]string
			for _, c := range st.AccountCredits {
				rows = append(rows, []string{c.Period.String(), c.Amount.String()})
			}
			rows = append(rows, []string{"合计", a.Credits.String()})
			d.Table([]pdf.Col{{Title: "记账月份", Width: 0.5}, {Title: "记入金额（元）", Width: 0.5, Right: true}}, rows)
		}
	}

	d.Heading(Sections[5])
	if len(st.Years) == 0 {
		d.Para("截至年末无缴费月数。", 10)
	} else {
		var rows [][]string
		for _, m := range st.Years {
			rows = append(rows, []string{name(TypeNames, m.Type), strconv.Itoa(m.Paid), strconv.Itoa(m.Deemed), strconv.Itoa(m.Total), m.Years})
		}
		d.Table([]pdf.Col{{Title: "险种", Width: 0.2}, {Title: "实缴月数", Width: 0.2, Right: true}, {Title: "视同缴费月数", Width: 0.2, Right: true},
			{Title: "合计月数", Width: 0.2, Right: true}, {Title: "折合年数", Width: 0.2, Right: true}}, rows)
	}
	if r := st.Retirement; r != nil {
		ok := "尚未满足"
		if r.Eligible {
			ok = "已满足"
		}
		d.Para(fmt.Sprintf("法定退休年月：%s；养老保险最低缴费月数 %d，%s。", r.Retire, r.MinContributionMonths, ok), 9)
	}
	d.Space(8)
	d.Para(fmt.Sprintf("说明：本记录单（人员编号 %s）依据截至记账日志第 %d 条事件的记录生成，金额单位为元。缴费基数、缴费金额、个人账户记账额、利息和缴费年限均由系统按预先设定的业务规则计算。"+
		"如对记录有异议，请登录自助查询（异议申请）或到经办窗口提出，并提供相关证明材料。", st.Person, st.Checkpoint), 8)
}
