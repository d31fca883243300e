package certificate

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"sirec/internal/pdf"
	"sirec/internal/statement"
)

// CheckPath is the public check page's path; the QR code points at it with the code as its query.
const CheckPath = "/verify/certificate"

// CheckURL is the address a certificate's QR code holds: the agency's public base URL, the check page, the code.
func CheckURL(base, code string) string {
	return strings.TrimRight(base, "/") + CheckPath + "?code=" + url.QueryEscape(code)
}

// QR returns the modules of a QR code for content (true = dark), without the quiet zone.
func QR(content string) ([][]bool, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// QRSVG draws a QR code for content as an SVG image (with its quiet zone), for pages: no script, no inline style.
func QRSVG(content, label string) (string, error) {
	bm, err := QR(content)
	if err != nil {
		return "", err
	}
	n := len(bm) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" shape-rendering="crispEdges">`, n, n, escape(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			r := x
			for r < len(row) && row[r] {
				r++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+4, y+4, r-x, r-x)
			x = r
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Render prints a certificate as PDF, with its verification code and a QR code holding checkURL.
func Render(f *pdf.Fonts, c Certificate, checkURL string, loc *time.Location) ([]byte, error) {
	if loc == nil {
		loc = time.Local
	}
	title := KindTitles[c.Kind]
	d, err := pdf.New(f, pdf.Info{Title: title + " " + c.Number, Subject: "Insurance certificate " + c.Number, Created: c.IssuedAt,
		Footer: fmt.Sprintf("%s · 编号 %s · 验真码 %s", title, c.Number, c.Code)})
	if err != nil {
		return nil, err
	}
	d.Title(title, 18)
	d.Centered("Social insurance certificate · 编号 "+c.Number, 9)
	d.Space(6)
	d.Pairs([]pdf.Pair{{Label: "姓名", Value: c.Name}, {Label: "公民身份号码", Value: c.IDMasked},
		{Label: "证明期间", Value: c.From.String() + " 至 " + c.To.String()}, {Label: "参保地", Value: c.Region}})
	d.Space(4)
	if c.Kind == KindContributions {
		var rows [][]string
		for _, l := range c.Lines {
			rows = append(rows, []string{statement.TypeNames[l.Type], strconv.Itoa(l.Months), l.Ranges, l.Amount.String()})
		}
		if len(rows) == 0 {
			d.Para("证明期间内无实缴记录。", 11)
		} else {
			d.Table([]pdf.Col{{Title: "险种", Width: 0.16}, {Title: "实缴月数", Width: 0.12, Right: true}, {Title: "缴费月份", Width: 0.52},
				{Title: "缴费金额（元）", Width: 0.2, Right: true}}, rows)
		}
		d.Para("兹证明上述人员在证明期间内按上表缴纳社会保险费。缴费金额为单位缴费和个人缴费之和。", 10)
	} else {
		var rows [][]string
		for _, l := range c.Lines {
			rows = append(rows, []string{statement.BenefitNames[l.Type], strconv.Itoa(l.Months), l.Ranges, l.Amount.String()})
		}
		if len(rows) == 0 {
			d.Para("证明期间内无待遇领取记录。", 11)
		} else {
			d.Table([]pdf.Col{{Title: "待遇类别", Width: 0.2}, {Title: "发放次数", Width: 0.12, Right: true}, {Title: "发放月份", Width: 0.48},
				{Title: "发放金额（元）", Width: 0.2, Right: true}}, rows)
		}
		d.Para("兹证明上述人员在证明期间内按上表领取社会保险待遇。", 10)
	}
	d.Para(fmt.Sprintf("本证明出具日期 %s，有效期至 %s。", c.IssuedAt.In(loc).Format("2006-01-02"), c.ValidUntil.In(loc).Format("2006-01-02")), 10)
	d.Space(10)
	bm, err := QR(checkURL)
	if err != nil {
		return nil, err
	}
	top := d.Y()
	d.Bitmap(bm, 0, 110)
	after := d.Y()
	d.SetY(top + 6)
	d.TextAt(125, "验真码："+c.Code, 12)
	d.TextAt(125, "扫描二维码，或访问经办机构核验页面输入验真码：", 9)
	d.TextAt(125, checkURL[:strings.Index(checkURL, "?")], 9)
	d.TextAt(125, "核验页面仅显示本证明所载内容；证明过期、撤销或所依据记录已更正的，核验不通过。", 8)
	d.TextAt(125, fmt.Sprintf("记录依据：记账日志签名检查点 %d（%d 条事件已证明包含）", c.Checkpoint, len(c.Events)), 8)
	d.SetY(max(after, d.Y()))
	d.Space(10)
	d.Para("出具机构：社会保险经办机构（"+c.Region+"）", 10)
	return d.Bytes()
}
