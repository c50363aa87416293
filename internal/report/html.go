package report

import (
	"bufio"
	"html/template"
	"io"
)

// htmlPage is one self-contained printable page: inline CSS, no script, no
// external asset; html/template escapes every value.
var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SLA report: {{.Region}}</title>
<style>
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #111; margin: 2rem; font-size: 14px; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; border-bottom: 1px solid #999; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: 0; }
dt { font-weight: bold; }
dd { margin: 0; }
.digest { font-family: "DejaVu Sans Mono", monospace; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .2rem .4rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
footer { margin-top: 2rem; font-size: .8rem; color: #444; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 10px; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  th { background: none; }
}
</style>
</head>
<body>
<h1>SLA report: {{.Region}}</h1>
<dl>
{{range .Header}}<dt>{{index . 0}}</dt><dd{{if eq (index . 0) "Digest"}} class="digest"{{end}}>{{index . 1}}</dd>
{{end}}</dl>
{{range .Tables}}<h2>{{.Title}}</h2>
{{if .Rows}}<table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{$right := .Right}}{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if index $right $i}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{else}}<p>{{.Empty}}</p>
{{end}}{{end}}<footer>Coverage below {{.MinCoverage}} of a period shows "insufficient data" instead of a percentage. The digest is the SHA-256 of the records the figures were computed from (vigil report --format=records).</footer>
</body>
</html>
`))

// WriteHTML writes d as one self-contained printable HTML page.
func WriteHTML(w io.Writer, d *Document) error {
	b := bufio.NewWriter(w)
	region := d.header()[0][1]
	err := htmlPage.Execute(b, struct {
		Region      string
		Header      [][2]string
		Tables      []table
		MinCoverage string
	}{region, d.header()[1:], d.tables(), percent(MinCoverage)})
	if err != nil {
		return err
	}
	return b.Flush()
}
