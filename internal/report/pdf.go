package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
)

// KoreanFonts are where Debian's fonts-nanum puts the regular and bold
// UTF-8 TrueType fonts the PDF uses for text beyond Latin-1 (fpdf's core
// fonts are Latin-1 only, and it reads TTF, not the TTC files of
// fonts-noto-cjk).
var KoreanFonts = [2]string{"/usr/share/fonts/truetype/nanum/NanumGothic.ttf", "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"}

// PDFOptions shape WritePDF.
type PDFOptions struct {
	// Fonts are the regular and bold TTF files; empty means KoreanFonts
	// when they exist. Without them, text is set in Helvetica and Hangul is
	// romanized (Revised Romanization, letter by letter), other text beyond
	// Latin-1 shown as "?".
	Fonts [2]string
	// Latin forces Helvetica even when the fonts exist.
	Latin bool
}

// Page geometry, in millimetres: A4 landscape.
const (
	pdfMargin   = 10.0
	pdfWidth    = 297.0 - 2*pdfMargin
	pdfBottom   = 210.0 - pdfMargin
	pdfLine     = 3.6 // line height of table text
	pdfFontSize = 7.0
)

// WritePDF writes d as a PDF (A4 landscape) with the same tables as the
// HTML page. The same d gives the same bytes: the creation and modification
// dates are d.GeneratedAt and the catalogs are sorted.
func WritePDF(w io.Writer, d *Document, opts PDFOptions) error {
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.GeneratedAt)
	pdf.SetModificationDate(d.GeneratedAt)
	pdf.SetProducer("Vigil", false)
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(false, pdfMargin)
	fonts := opts.Fonts
	if fonts[0] == "" {
		fonts = KoreanFonts
	}
	family, text := "Helvetica", latin
	if !opts.Latin && exists(fonts[0]) && exists(fonts[1]) {
		regular, err := os.ReadFile(fonts[0])
		if err != nil {
			return fmt.Errorf("pdf font: %w", err)
		}
		bold, err := os.ReadFile(fonts[1])
		if err != nil {
			return fmt.Errorf("pdf font: %w", err)
		}
		pdf.AddUTF8FontFromBytes("text", "", regular)
		pdf.AddUTF8FontFromBytes("text", "B", bold)
		family, text = "text", func(s string) string { return s }
		if err := pdf.Error(); err != nil {
			return fmt.Errorf("pdf fonts %s: %w", strings.Join(fonts[:], ", "), err)
		}
	}
	region := d.header()[0][1]
	pdf.SetTitle(text("SLA report: "+region), family == "text")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-pdfMargin + 2)
		pdf.SetFont(family, "", 6)
		pdf.CellFormat(0, 3, text(fmt.Sprintf("%s  ·  page %d", d.Digest, pdf.PageNo())), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont(family, "B", 14)
	pdf.CellFormat(0, 8, text("SLA report: "+region), "", 1, "L", false, 0, "")
	for _, kv := range d.header()[1:] {
		pdf.SetFont(family, "B", 8)
		pdf.CellFormat(22, 4.5, text(kv[0]), "", 0, "L", false, 0, "")
		pdf.SetFont(family, "", 8)
		pdf.CellFormat(0, 4.5, text(kv[1]), "", 1, "L", false, 0, "")
	}
	for _, t := range d.tables() {
		pdfTable(pdf, family, text, t)
	}
	pdf.Ln(4)
	pdf.SetFont(family, "", 7)
	pdf.MultiCell(0, 3.5, text(fmt.Sprintf("Coverage below %s of a period shows \"insufficient data\" instead of a percentage. "+
		"The digest is the SHA-256 of the records the figures were computed from (vigil report --format=records).", percent(MinCoverage))), "", "L", false)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	return pdf.Output(w)
}

// pdfTable draws t: a title, a header row and rows whose cells wrap, the
// header repeated on every page the table runs onto.
func pdfTable(pdf *fpdf.Fpdf, family string, text func(string) string, t table) {
	if pdf.GetY()+20 > pdfBottom {
		pdf.AddPage()
	}
	pdf.Ln(3)
	pdf.SetFont(family, "B", 10)
	pdf.CellFormat(0, 6, text(t.Title), "", 1, "L", false, 0, "")
	pdf.SetFont(family, "", pdfFontSize)
	if len(t.Rows) == 0 {
		pdf.CellFormat(0, 5, text(t.Empty), "", 1, "L", false, 0, "")
		return
	}
	widths := columnWidths(pdf, family, text, t)
	row := func(cells []string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont(family, style, pdfFontSize)
		lines := make([][]string, len(cells))
		height := 0
		for i, c := range cells {
			lines[i] = pdf.SplitText(text(c), widths[i]) // less the cell margins
			if len(lines[i]) == 0 {
				lines[i] = []string{""}
			}
			height = max(height, len(lines[i]))
		}
		h := float64(height)*pdfLine + 1
		if pdf.GetY()+h > pdfBottom {
			pdf.AddPage()
		}
		x, y := pdf.GetX(), pdf.GetY()
		for i := range cells {
			align := "L"
			if t.Right[i] {
				align = "R"
			}
			fill := bold
			if fill {
				pdf.SetFillColor(235, 235, 235)
			}
			pdf.Rect(x, y, widths[i], h, map[bool]string{true: "FD", false: "D"}[fill])
			for j, l := range lines[i] {
				pdf.SetXY(x, y+0.5+float64(j)*pdfLine)
				pdf.CellFormat(widths[i], pdfLine, l, "", 0, align, false, 0, "")
			}
			x += widths[i]
		}
		pdf.SetXY(pdfMargin, y+h)
	}
	row(t.Head, true)
	for _, r := range t.Rows {
		if pdf.GetY()+pdfLine+1 > pdfBottom {
			pdf.AddPage()
			row(t.Head, true)
		}
		row(r, false)
	}
}

// columnWidths gives each column its widest cell (capped, so that long
// errors wrap) and, when the columns are wider than the page, shrinks them
// toward the widest word of their heading, which never wraps.
func columnWidths(pdf *fpdf.Fpdf, family string, text func(string) string, t table) []float64 {
	widths := make([]float64, len(t.Head))
	least := make([]float64, len(t.Head))
	pdf.SetFont(family, "B", pdfFontSize)
	for i, h := range t.Head {
		for _, word := range strings.Fields(h) {
			least[i] = max(least[i], pdf.GetStringWidth(text(word))+2.5)
		}
		widths[i] = max(least[i], min(pdf.GetStringWidth(text(h))+2, 30))
	}
	pdf.SetFont(family, "", pdfFontSize)
	for _, r := range t.Rows {
		for i, c := range r {
			widths[i] = max(widths[i], min(pdf.GetStringWidth(text(c))+2, 60))
		}
	}
	var sum, sumLeast float64
	for i, w := range widths {
		sum += w
		sumLeast += least[i]
	}
	if sum <= pdfWidth || sumLeast >= pdfWidth || sum == sumLeast {
		for i := range widths {
			widths[i] *= pdfWidth / sum
		}
		return widths
	}
	share := (pdfWidth - sumLeast) / (sum - sumLeast)
	for i := range widths {
		widths[i] = least[i] + (widths[i]-least[i])*share
	}
	return widths
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// latin prepares s for a core font (cp1252, which matches Latin-1 from
// 0xA0): Hangul romanized, a few typographic marks made ASCII, anything
// else beyond Latin-1 "?".
func latin(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xAC00 && r <= 0xD7A3:
			b.WriteString(romanize(r))
		case r == '·':
			b.WriteByte(0xB7)
		case r == '–' || r == '—':
			b.WriteByte('-')
		case r == '‘' || r == '’':
			b.WriteByte('\'')
		case r == '“' || r == '”':
			b.WriteByte('"')
		case r == '…':
			b.WriteString("...")
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			b.WriteByte(byte(r))
		case r == utf8.RuneError:
			b.WriteByte('?')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// The jamo of a Hangul syllable in Revised Romanization, letter by letter
// (no sound changes between syllables): 카카오톡 is "kakaotok".
var (
	rrInitial = [...]string{"g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"}
	rrMedial  = [...]string{"a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i"}
	rrFinal   = [...]string{"", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t"}
)

func romanize(r rune) string {
	i := int(r - 0xAC00)
	return rrInitial[i/(21*28)] + rrMedial[i/28%21] + rrFinal[i%28]
}
