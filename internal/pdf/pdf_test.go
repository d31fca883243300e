package pdf_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sirec/internal/pdf"
	"sirec/internal/pdf/pdftest"
)

func TestChineseTextSurvivesExtraction(t *testing.T) {
	f := pdftest.Fonts(t)
	d, err := pdf.New(f, pdf.Info{Title: "测试", Created: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Footer: "社会保险个人权益记录单"})
	if err != nil {
		t.Fatal(err)
	}
	d.Title("社会保险个人权益记录单（2025年度）", 16)
	d.Heading("一、个人基本信息")
	d.Pairs([]pdf.Pair{{Label: "姓名", Value: "王小明"}, {Label: "公民身份号码", Value: "110105********0019"}})
	rows := [][]string{}
	for m := 1; m <= 80; m++ { // long enough to run onto a second page
		rows = append(rows, []string{"2025" + []string{"01", "02", "03"}[m%3], "实缴", "1396.82"})
	}
	rows = append(rows, []string{"合计", "", "111745.60"})
	d.Table([]pdf.Col{{Title: "所属期", Width: 0.3}, {Title: "缴费状态", Width: 0.3}, {Title: "个人缴费（元）", Width: 0.4, Right: true}}, rows)
	d.Para("如对本记录单有异议，请登录自助查询提出异议 (objection)。", 9)
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	text := pdftest.Text(t, b)
	for _, want := range []string{"社会保险个人权益记录单（2025年度）", "一、个人基本信息", "王小明", "110105********0019", "所属期", "1396.82",
		"合计111745.60", "第2页", "(objection)"} {
		if !strings.Contains(text, want) {
			t.Errorf("extracted text lacks %q:\n%s", want, text)
		}
	}
}

func TestMissingFontNamesThePackage(t *testing.T) {
	_, err := pdf.LoadFonts("/nonexistent/DroidSansFallbackFull.ttf", "")
	if !errors.Is(err, pdf.ErrFontMissing) || !strings.Contains(err.Error(), "fonts-droid-fallback") {
		t.Errorf("missing CJK font: %v", err)
	}
	ttc := filepath.Join(t.TempDir(), "x.ttc")
	os.WriteFile(ttc, []byte("ttcf\x00\x01\x00\x00"), 0o600)
	if _, err := pdf.LoadFonts(ttc, ""); err == nil || !strings.Contains(err.Error(), "collection") {
		t.Errorf("a .ttc font: %v", err)
	}
}
