// Package pdf lays out the agency's printed documents — yearly rights statements and insurance certificates — as
// PDF with correct Chinese text: the glyphs used are embedded as TrueType subsets (github.com/signintech/gopdf)
// with a ToUnicode map, so that the text can be searched, copied and extracted (pdftotext).
//
// Two TrueType fonts are used, each for what it covers: a CJK font for Chinese (Debian's fonts-droid-fallback:
// DroidSansFallbackFull.ttf, Apache-2.0) and a Latin font for digits and Latin letters (Debian's
// fonts-dejavu-core: DejaVuSans.ttf), since the CJK font has no Latin glyphs. The fonts are not shipped with
// sirec; a missing font is an error that names the Debian package to install. TrueType collections (.ttc) and
// CFF-based OpenType fonts (most Noto CJK and WenQuanYi files) cannot be embedded this way and are refused.
package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/signintech/gopdf"
)

// Default font files: Debian's packages.
const (
	DefaultCJKFont   = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf" // fonts-droid-fallback
	DefaultLatinFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"           // fonts-dejavu-core
)

// ErrFontMissing is wrapped by the error of a font file that cannot be read.
var ErrFontMissing = errors.New("font missing")

// Fonts are the parsed fonts, shared (read-only) by every document made from them.
type Fonts struct {
	container gopdf.FontContainer
}

// LoadFonts reads and parses the CJK and the Latin TrueType font. Empty paths mean the defaults.
func LoadFonts(cjk, latin string) (*Fonts, error) {
	if cjk == "" {
		cjk = DefaultCJKFont
	}
	if latin == "" {
		latin = DefaultLatinFont
	}
	f := &Fonts{}
	for _, ft := range []struct{ family, path, pkg, flag string }{
		{"cjk", cjk, "fonts-droid-fallback", "--font-cjk / SIREC_FONT_CJK"},
		{"latin", latin, "fonts-dejavu-core", "--font-latin / SIREC_FONT_LATIN"},
	} {
		b, err := os.ReadFile(ft.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s font %s not found: install Debian's %s package (apt-get install %s), or name a TrueType (.ttf) font with %s",
				ErrFontMissing, ft.family, ft.path, ft.pkg, ft.pkg, ft.flag)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s font %s: %v", ErrFontMissing, ft.family, ft.path, err)
		}
		if bytes.HasPrefix(b, []byte("ttcf")) || bytes.HasPrefix(b, []byte("OTTO")) {
			return nil, fmt.Errorf("%s font %s is a TrueType collection or a CFF OpenType font, which cannot be embedded; use a single .ttf such as %s (Debian's %s)",
				ft.family, ft.path, map[string]string{"cjk": DefaultCJKFont, "latin": DefaultLatinFont}[ft.family], ft.pkg)
		}
		if err := f.container.AddTTFFontData(ft.family, b); err != nil {
			return nil, fmt.Errorf("%s font %s: %w", ft.family, ft.path, err)
		}
	}
	return f, nil
}

// FontSource loads the fonts once, when a document is first made, so that a service without fonts still starts
// and says what is missing when a document is asked for.
type FontSource struct {
	CJK, Latin string // font files; empty for the defaults

	once  sync.Once
	fonts *Fonts
	err   error
}

// Fonts returns the loaded fonts, loading them on first use.
func (s *FontSource) Fonts() (*Fonts, error) {
	s.once.Do(func() { s.fonts, s.err = LoadFonts(s.CJK, s.Latin) })
	return s.fonts, s.err
}

// Page geometry (points): A4 portrait with 50 pt margins.
const (
	PageWidth  = 595.28
	PageHeight = 841.89
	Margin     = 50.0
	ContentW   = PageWidth - 2*Margin
	bottom     = PageHeight - Margin - 20 // room for the footer
)

// Info describes a document.
type Info struct {
	Title   string
	Subject string
	Created time.Time // written as the document's creation date: the issue time, so that a reprint is the same
	Footer  string    // printed at the foot of every page, before the page number
}

// Doc is a document being laid out: a cursor moving down the page, a new page when the next block would not fit.
type Doc struct {
	pdf   gopdf.GoPdf
	info  Info
	y     float64
	page  int // page number within the current part
	pages int // pages in the whole document
	err   error
}

// New starts a document.
func New(f *Fonts, info Info) (*Doc, error) {
	d := &Doc{info: info}
	d.pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	d.pdf.SetInfo(gopdf.PdfInfo{Title: info.Title, Subject: info.Subject, Author: "sirec", Creator: "sirec", Producer: "sirec", CreationDate: info.Created})
	for _, fam := range []string{"latin", "cjk"} {
		if err := d.pdf.AddTTFFontFromFontContainer(fam, &f.container); err != nil {
			return nil, fmt.Errorf("pdf font %s: %w", fam, err)
		}
	}
	d.newPage()
	return d, d.err
}

func (d *Doc) fail(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
}

func (d *Doc) newPage() {
	d.pdf.AddPage()
	d.page++
	d.pages++
	d.y = Margin
	d.pdf.SetStrokeColor(160, 160, 160)
	d.pdf.SetLineWidth(0.5)
	d.pdf.Line(Margin, PageHeight-Margin-8, PageWidth-Margin, PageHeight-Margin-8)
	foot := fmt.Sprintf("第 %d 页", d.page)
	if d.info.Footer != "" {
		foot = d.info.Footer + "   " + foot
	}
	d.text(Margin, PageHeight-Margin+4, foot, 8, false)
}

// NextPart starts a new part of the document on a new page, with its own footer and page numbers counted from
// 1: one document holding many statements, for printing them in one run (fonts embedded once).
func (d *Doc) NextPart(footer string) {
	d.info.Footer = footer
	d.page = 0
	d.newPage()
}

// Pages returns the number of pages so far.
func (d *Doc) Pages() int { return d.pages }

// Ensure starts a new page unless h points fit on this one.
func (d *Doc) Ensure(h float64) {
	if d.y+h > bottom {
		d.newPage()
	}
}

// Space moves down h points.
func (d *Doc) Space(h float64) { d.y += h }

// latin reports whether the Latin font draws r: ASCII, Latin-1 and general punctuation; the CJK font draws the
// rest (it has no Latin glyphs).
func latin(r rune) bool { return r < 0x2000 || (r >= 0x2010 && r <= 0x2027) }

// runs splits s into runs of one font each.
func runs(s string) []struct {
	font string
	text string
} {
	var out []struct {
		font string
		text string
	}
	rs := []rune(s)
	for i := 0; i < len(rs); {
		l := latin(rs[i])
		j := i + 1
		for j < len(rs) && latin(rs[j]) == l {
			j++
		}
		f := "cjk"
		if l {
			f = "latin"
		}
		out = append(out, struct {
			font string
			text string
		}{f, string(rs[i:j])})
		i = j
	}
	return out
}

// Width returns the width of s at size points.
func (d *Doc) Width(s string, size float64) float64 {
	w := 0.0
	for _, r := range runs(s) {
		d.fail(d.pdf.SetFont(r.font, "", size))
		x, err := d.pdf.MeasureTextWidth(r.text)
		d.fail(err)
		w += x
	}
	return w
}

// text draws s with its baseline-top at (x, y), switching fonts by run.
func (d *Doc) text(x, y float64, s string, size float64, strong bool) {
	// The fonts have no bold face (and an overprint would print the text twice for pdftotext): strong text is
	// set in dark blue instead.
	d.pdf.SetTextColor(0, 0, 0)
	if strong {
		d.pdf.SetTextColor(0, 32, 96)
	}
	for _, r := range runs(s) {
		d.fail(d.pdf.SetFont(r.font, "", size))
		d.pdf.SetXY(x, y)
		d.fail(d.pdf.Cell(nil, r.text))
		w, err := d.pdf.MeasureTextWidth(r.text)
		d.fail(err)
		x += w
	}
}

// wrap breaks s into lines no wider than w at size.
func (d *Doc) wrap(s string, size, w float64) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := []rune{}
		for _, r := range para {
			if len(line) > 0 && d.Width(string(append(line, r)), size) > w {
				lines = append(lines, string(line))
				line = line[:0]
			}
			line = append(line, r)
		}
		lines = append(lines, string(line))
	}
	return lines
}

// Title writes the document's title, centred.
func (d *Doc) Title(s string, size float64) {
	d.Ensure(size + 8)
	w := d.Width(s, size)
	d.text((PageWidth-w)/2, d.y, s, size, true)
	d.y += size + 8
}

// Centered writes a line of small text, centred.
func (d *Doc) Centered(s string, size float64) {
	d.Ensure(size + 6)
	w := d.Width(s, size)
	d.text((PageWidth-w)/2, d.y, s, size, false)
	d.y += size + 6
}

// Heading writes a section heading with a rule under it.
func (d *Doc) Heading(s string) {
	d.Ensure(60) // never a heading alone at the foot of a page
	d.y += 6
	d.text(Margin, d.y, s, 12, true)
	d.y += 16
	d.pdf.SetStrokeColor(0, 0, 0)
	d.pdf.SetLineWidth(0.8)
	d.pdf.Line(Margin, d.y, PageWidth-Margin, d.y)
	d.y += 6
}

// Para writes wrapped text.
func (d *Doc) Para(s string, size float64) {
	for _, l := range d.wrap(s, size, ContentW) {
		d.Ensure(size + 4)
		d.text(Margin, d.y, l, size, false)
		d.y += size + 4
	}
}

// Pair is a label and its value.
type Pair struct{ Label, Value string }

// Pairs writes labels and values in two columns of pairs.
func (d *Doc) Pairs(ps []Pair) {
	const size = 10
	colW := ContentW / 2
	for i := 0; i < len(ps); i += 2 {
		d.Ensure(size + 6)
		for j := 0; j < 2 && i+j < len(ps); j++ {
			x := Margin + float64(j)*colW
			d.text(x, d.y, ps[i+j].Label+"：", size, false)
			d.text(x+90, d.y, ps[i+j].Value, size, false)
		}
		d.y += size + 6
	}
}

// Col is a table column: its title, its share of the width, and whether its cells align right (figures).
type Col struct {
	Title string
	Width float64 // a share of the content width; the shares of a table add up to 1
	Right bool
}

// Table writes a table; the header is repeated on every page the table runs onto. A last row whose first cell
// starts with "合计" is drawn as a total.
func (d *Doc) Table(cols []Col, rows [][]string) {
	const size, rowH = 9.0, 15.0
	header := func() {
		d.pdf.SetFillColor(230, 230, 230)
		d.pdf.RectFromUpperLeftWithStyle(Margin, d.y-2, ContentW, rowH, "F")
		d.row(cols, titles(cols), size, true)
		d.y += rowH
	}
	d.Ensure(2 * rowH)
	header()
	for _, r := range rows {
		if d.y+rowH > bottom {
			d.newPage()
			header()
		}
		total := len(r) > 0 && strings.HasPrefix(r[0], "合计")
		if total {
			d.pdf.SetStrokeColor(0, 0, 0)
			d.pdf.SetLineWidth(0.5)
			d.pdf.Line(Margin, d.y-2, PageWidth-Margin, d.y-2)
		}
		d.row(cols, r, size, total)
		d.y += rowH
	}
	d.y += 4
}

func titles(cols []Col) []string {
	t := make([]string, len(cols))
	for i, c := range cols {
		t[i] = c.Title
	}
	return t
}

func (d *Doc) row(cols []Col, cells []string, size float64, bold bool) {
	x := Margin
	for i, c := range cols {
		w := c.Width * ContentW
		if i < len(cells) {
			s := cells[i]
			for s != "" && d.Width(s, size) > w-6 {
				s = string([]rune(s)[:len([]rune(s))-1])
			}
			tx := x + 3
			if c.Right {
				tx = x + w - 3 - d.Width(s, size)
			}
			d.text(tx, d.y, s, size, bold)
		}
		x += w
	}
}

// Bitmap draws a square bitmap (true = dark) of side points at the left margin plus dx, at the cursor, and moves
// the cursor below it: a QR code.
func (d *Doc) Bitmap(bm [][]bool, dx, side float64) {
	if len(bm) == 0 {
		return
	}
	d.Ensure(side + 6)
	cell := side / float64(len(bm))
	d.pdf.SetFillColor(0, 0, 0)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := x
			for run < len(row) && row[run] {
				run++
			}
			d.pdf.RectFromUpperLeftWithStyle(Margin+dx+float64(x)*cell, d.y+float64(y)*cell, float64(run-x)*cell+0.05, cell+0.05, "F")
			x = run
		}
	}
	d.y += side + 6
}

// Y returns the cursor's position; SetY moves it (to write beside a bitmap).
func (d *Doc) Y() float64     { return d.y }
func (d *Doc) SetY(y float64) { d.y = y }

// TextAt writes one line at the left margin plus dx, at the cursor, and moves the cursor down.
func (d *Doc) TextAt(dx float64, s string, size float64) {
	d.text(Margin+dx, d.y, s, size, false)
	d.y += size + 5
}

// Bytes finishes the document.
func (d *Doc) Bytes() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	var buf bytes.Buffer
	if _, err := d.pdf.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
