package globalrole

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// The global bulletin is an agent's bulletin (internal/web/bulletin.go)
// across regions: a header with the time, the regions that stopped
// publishing named once, then one line per service, its normal features
// listed briefly and the exceptions in parentheses with the regions that
// see them, worst first:
//
//	As of 1 Nov 00:02 UTC —
//	No data from c since 00:00; not counted.
//	talk: inbox normal (send down from a, b; drawer down from a only)
//
// "Recovering" is not said: the view keeps each region's up, degraded and
// down, not an agent's recovering.

// bulletinAllNormalOver is how many features a service with nothing wrong
// must exceed to be summed up as "all N features normal", as an agent's.
const bulletinAllNormalOver = 4

// bulletinWords are the bulletin's words in one language; the %s are
// filled in order (feature, regions).
type bulletinWords struct {
	Title, StatusLink, AsOf, NoData, NoDataItem, AllNormal, Normal string
	Down, Regional, Degraded, Maintenance, Unknown                 string
}

var (
	englishBulletin = bulletinWords{Title: "Vigil: bulletin, all regions", StatusLink: "Status page", AsOf: "As of %s —",
		NoData: "No data from %s; not counted.", NoDataItem: "%s since %s", AllNormal: "all %d features normal",
		Normal: "normal", Down: "%s down from %s", Regional: "%s down from %s only", Degraded: "%s degraded in %s",
		Maintenance: "%s under maintenance", Unknown: "%s no data"}
	koreanBulletin = bulletinWords{Title: "Vigil: 전체 리전 복구 현황", StatusLink: "서비스 상태", AsOf: "%s 기준 —",
		NoData: "데이터 없음: %s, 집계에서 제외.", NoDataItem: "%s(%s 이후)", AllNormal: "기능 %d개 모두 정상",
		Normal: "정상", Down: "%s %s에서 장애", Regional: "%s %s에서만 장애", Degraded: "%s %s에서 성능 저하",
		Maintenance: "%s 점검 중", Unknown: "%s 데이터 없음"}
)

func bulletinWordsFor(wd words) bulletinWords {
	if wd.Lang == "ko" {
		return koreanBulletin
	}
	return englishBulletin
}

// bulletinPart is a run of a line; State is set on an exception, so that
// HTML can color it.
type bulletinPart struct{ Text, State string }

// bulletinLine is one service's line.
type bulletinLine struct {
	Service string
	Parts   []bulletinPart
}

// Text is the line after the service, without markup.
func (l bulletinLine) Text() string {
	var b strings.Builder
	for _, p := range l.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// severity orders exceptions worst first.
var severity = map[string]int{globalview.StateDown: 0, globalview.StateRegional: 1, globalview.StateDegraded: 2,
	globalview.StateMaintenance: 3, globalview.StateUnknown: 4}

// bulletinService is one service's line from its features (in feature order).
func bulletinService(bw bulletinWords, features []globalview.FeatureStatus) bulletinLine {
	line := bulletinLine{Service: features[0].Service}
	var normal []string
	var exceptions []globalview.FeatureStatus
	for _, f := range features {
		if f.State == globalview.StateUp {
			normal = append(normal, f.Feature)
		} else {
			exceptions = append(exceptions, f)
		}
	}
	if len(exceptions) == 0 && len(normal) > bulletinAllNormalOver {
		line.Parts = []bulletinPart{{Text: fmt.Sprintf(bw.AllNormal, len(normal))}}
		return line
	}
	slices.SortStableFunc(exceptions, func(a, b globalview.FeatureStatus) int { return severity[a.State] - severity[b.State] })
	if len(normal) > 0 {
		line.Parts = append(line.Parts, bulletinPart{Text: strings.Join(normal, ", ") + " " + bw.Normal})
		if len(exceptions) > 0 {
			line.Parts = append(line.Parts, bulletinPart{Text: " ("})
		}
	}
	for i, f := range exceptions {
		if i > 0 {
			line.Parts = append(line.Parts, bulletinPart{Text: "; "})
		}
		line.Parts = append(line.Parts, bulletinPart{Text: exceptionText(bw, f), State: f.State})
	}
	if len(normal) > 0 && len(exceptions) > 0 {
		line.Parts = append(line.Parts, bulletinPart{Text: ")"})
	}
	return line
}

// exceptionText is "send down from a, b", "drawer down from a only",
// "search degraded in b" or "inbox no data".
func exceptionText(bw bulletinWords, f globalview.FeatureStatus) string {
	switch f.State {
	case globalview.StateDown:
		return fmt.Sprintf(bw.Down, f.Feature, strings.Join(f.RegionsDown, ", "))
	case globalview.StateRegional:
		return fmt.Sprintf(bw.Regional, f.Feature, strings.Join(f.RegionsDown, ", "))
	case globalview.StateDegraded:
		var in []string
		for _, r := range f.Regions {
			if r.State == globalview.StateDegraded {
				in = append(in, r.Region)
			}
		}
		return fmt.Sprintf(bw.Degraded, f.Feature, strings.Join(in, ", "))
	case globalview.StateMaintenance:
		return fmt.Sprintf(bw.Maintenance, f.Feature)
	}
	return fmt.Sprintf(bw.Unknown, f.Feature)
}

// bulletinLines are the lines, services in the order features come
// (the view sorts them by service).
func bulletinLines(bw bulletinWords, features []globalview.FeatureStatus) []bulletinLine {
	var lines []bulletinLine
	for start := 0; start < len(features); {
		end := start + 1
		for end < len(features) && features[end].Service == features[start].Service {
			end++
		}
		lines = append(lines, bulletinService(bw, features[start:end]))
		start = end
	}
	return lines
}

// silentRegions is the "no data" line: every region with no data for
// each feature it had, with the latest "no data since" among them; ""
// when none is silent.
func (r *Role) silentRegions(bw bulletinWords, wd words, features []globalview.FeatureStatus, regions []string, now time.Time) string {
	var items []string
	for _, region := range regions {
		var since time.Time
		silent := false
		for _, f := range features {
			i := slices.IndexFunc(f.Regions, func(s globalview.RegionStatus) bool { return s.Region == region })
			if i < 0 {
				continue
			}
			if f.Regions[i].NoDataSince == nil {
				silent = false
				break
			}
			silent = true
			if t := *f.Regions[i].NoDataSince; t.After(since) {
				since = t
			}
		}
		if silent {
			items = append(items, fmt.Sprintf(bw.NoDataItem, region, shortTime(wd, since.In(r.loc), now)))
		}
	}
	if len(items) == 0 {
		return ""
	}
	return fmt.Sprintf(bw.NoData, strings.Join(items, ", "))
}

// dateTime is "1 Nov 00:02" / "11월 1일 00:02", as an agent's bulletin.
func dateTime(wd words, t time.Time) string {
	if wd.Lang == "ko" {
		return fmt.Sprintf("%d월 %d일 %s", t.Month(), t.Day(), t.Format("15:04"))
	}
	return t.Format("2 Jan 15:04")
}

// shortTime is the time alone on now's day, else the date and time.
func shortTime(wd words, t, now time.Time) string {
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return dateTime(wd, t)
}

// bulletinData is what the text and the HTML bulletin show.
type bulletinData struct {
	W      words
	B      bulletinWords
	Header string
	Notes  []string // not caught up; regions with no data
	Lines  []bulletinLine
	Empty  bool
}

func (r *Role) bulletin(wd words, now time.Time) bulletinData {
	bw := bulletinWordsFor(wd)
	now = now.In(r.loc)
	features, regions := r.st.view.Features(), r.st.view.Regions()
	d := bulletinData{W: wd, B: bw, Header: fmt.Sprintf(bw.AsOf, dateTime(wd, now)+" "+now.Format("MST")),
		Lines: bulletinLines(bw, features), Empty: len(features) == 0}
	if !r.Ready() {
		d.Notes = append(d.Notes, wd.NotCaughtUp)
	}
	if s := r.silentRegions(bw, wd, features, regions, now); s != "" {
		d.Notes = append(d.Notes, s)
	}
	return d
}

// writeBulletin writes the bulletin as plain text.
func writeBulletin(w io.Writer, d bulletinData) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, d.Header)
	for _, n := range d.Notes {
		fmt.Fprintln(b, n)
	}
	if d.Empty {
		fmt.Fprintln(b, d.W.NoFeatures)
	}
	for _, l := range d.Lines {
		fmt.Fprintf(b, "%s: %s\n", l.Service, l.Text())
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write bulletin: %w", err)
	}
	return nil
}

// bulletinPage serves /bulletin: HTML, or text with ?format=text; the
// language as the status page's (?lang=, then Accept-Language).
func (r *Role) bulletinPage(w http.ResponseWriter, req *http.Request) {
	d := r.bulletin(wordsFor(req), r.clock.Now())
	w.Header().Set("Content-Language", d.W.Lang)
	if req.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_ = writeBulletin(w, d)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = bulletinTemplate.Execute(w, d)
}

var bulletinTemplate = template.Must(template.New("bulletin").Parse(`<!doctype html>
<html lang="{{.W.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.B.Title}}</title>
<link rel="icon" href="data:,">
<meta http-equiv="refresh" content="30">
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
.st-down{color:#b00020;font-weight:600}.st-regional,.st-degraded{color:#8a6100;font-weight:600}.st-unknown{color:#555}
.note{background:#fff3cd;padding:.5rem}
</style>
</head>
<body>
<header><h1>{{.B.Title}}</h1><p><a href="?lang={{.W.OtherLang}}" lang="{{.W.OtherLang}}">{{.W.OtherName}}</a> · <a href="./?lang={{.W.Lang}}">{{.B.StatusLink}}</a> · <a href="?lang={{.W.Lang}}&amp;format=text">text</a></p></header>
<main>
<p><strong>{{.Header}}</strong></p>
{{- range .Notes}}
<p class="note" role="status">{{.}}</p>
{{- end}}
{{- if .Empty}}
<p>{{.W.NoFeatures}}</p>
{{- end}}
{{- range .Lines}}
<p><strong>{{.Service}}</strong>: {{range .Parts}}{{if .State}}<span class="st-{{.State}}">{{.Text}}</span>{{else}}{{.Text}}{{end}}{{end}}</p>
{{- end}}
</main>
</body>
</html>
`))
