package globalrole

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// words is the page's text in one language.
type words struct {
	Lang, Title, Feature, Global, NotCaughtUp, NoFeatures, NoDataSince, RegionsDown, Since, OtherLang, OtherName, Bulletin string
	// Incidents heads the active incidents; Incident is one: services, the
	// features down, all of the incident's features, since when.
	Incidents, Incident string
	States              map[string]string
}

var (
	english = words{Lang: "en", Title: "Vigil: all regions", Feature: "Feature", Global: "Global",
		NotCaughtUp: "Still reading the stream: the view may be behind.",
		NoFeatures:  "No agent has published a record yet.",
		NoDataSince: "no data since %s", RegionsDown: "down in %s", Since: "since %s",
		OtherLang: "ko", OtherName: "한국어", Bulletin: "Bulletin",
		Incidents: "Active incidents", Incident: "%[1]s: %[2]d of %[3]d features down since %[4]s",
		States: map[string]string{globalview.StateUp: "Up", globalview.StateRegional: "Regional",
			globalview.StateDegraded: "Degraded", globalview.StateDown: "Down", globalview.StateMaintenance: "Maintenance", globalview.StateUnknown: "Unknown"}}
	korean = words{Lang: "ko", Title: "Vigil: 전체 리전", Feature: "기능", Global: "전체",
		NotCaughtUp: "스트림을 아직 읽는 중입니다: 화면이 최신이 아닐 수 있습니다.",
		NoFeatures:  "아직 기록을 보낸 에이전트가 없습니다.",
		NoDataSince: "%s 이후 데이터 없음", RegionsDown: "%s 장애", Since: "%s부터",
		OtherLang: "en", OtherName: "English", Bulletin: "복구 현황",
		Incidents: "진행 중인 장애", Incident: "%[1]s: 기능 %[3]d개 중 %[2]d개 장애, %[4]s부터",
		States: map[string]string{globalview.StateUp: "정상", globalview.StateRegional: "일부 리전 장애",
			globalview.StateDegraded: "성능 저하", globalview.StateDown: "장애", globalview.StateMaintenance: "점검 중", globalview.StateUnknown: "알 수 없음"}}
	languages = language.NewMatcher([]language.Tag{language.English, language.Korean})
)

// wordsFor picks the language: ?lang= first, then Accept-Language, else English.
func wordsFor(r *http.Request) words {
	tag, _ := language.MatchStrings(languages, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	if base, _ := tag.Base(); base.String() == "ko" {
		return korean
	}
	return english
}

// pageRow is one feature: its global state and a cell per region.
type pageRow struct {
	Service, Feature, State, StateText, Note string
	Cells                                    []pageCell
}

type pageCell struct{ State, Text, Note string }

type pageData struct {
	W         words
	AsOf      string
	Ready     bool
	Regions   []string
	Incidents []string
	Rows      []pageRow
}

func (r *Role) statusPage(w http.ResponseWriter, req *http.Request) {
	wd := wordsFor(req)
	features, regions := r.st.view.Features(), r.st.view.Regions()
	data := pageData{W: wd, AsOf: r.clock.Now().In(r.loc).Format("2006-01-02 15:04:05 MST"), Ready: r.Ready(), Regions: regions}
	for _, f := range features {
		data.Rows = append(data.Rows, r.row(wd, f, regions))
	}
	for _, inc := range r.st.incidents(globalview.IncidentQuery{Active: true}) {
		data.Incidents = append(data.Incidents, fmt.Sprintf(wd.Incident, strings.Join(inc.Services, ", "),
			inc.ActiveCount, len(inc.Features), r.stamp(inc.Start)))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, data)
}

// row is feature f's line: the global state (with the regions that see
// it down) and per region its state or "no data since ...".
func (r *Role) row(wd words, f globalview.FeatureStatus, regions []string) pageRow {
	row := pageRow{Service: f.Service, Feature: f.Feature, State: f.State, StateText: wd.States[f.State]}
	if len(f.RegionsDown) > 0 {
		row.Note = sprintf(wd.RegionsDown, strings.Join(f.RegionsDown, ", "))
	} else if !f.Since.IsZero() {
		row.Note = sprintf(wd.Since, r.stamp(f.Since))
	}
	for _, region := range regions {
		i := slices.IndexFunc(f.Regions, func(s globalview.RegionStatus) bool { return s.Region == region })
		if i < 0 {
			row.Cells = append(row.Cells, pageCell{State: globalview.StateUnknown, Text: wd.States[globalview.StateUnknown]})
			continue
		}
		s := f.Regions[i]
		cell := pageCell{State: s.State, Text: wd.States[s.State]}
		if s.NoDataSince != nil {
			cell.Note = sprintf(wd.NoDataSince, r.stamp(*s.NoDataSince))
		}
		row.Cells = append(row.Cells, cell)
	}
	return row
}

func (r *Role) stamp(t time.Time) string { return t.In(r.loc).Format("2006-01-02 15:04:05 MST") }

func sprintf(format, arg string) string { return strings.Replace(format, "%s", arg, 1) }

var page = template.Must(template.New("global").Parse(`<!doctype html>
<html lang="{{.W.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.W.Title}}</title>
<link rel="icon" href="data:,">
<meta http-equiv="refresh" content="30">
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
.st-up{background:#e3f6e3}.st-degraded,.st-regional{background:#fff3cd}.st-down{background:#f8d7da}.st-unknown{background:#eee}.st-maintenance{background:#dbe9ff}
small{display:block;color:#555}.banner{background:#fff3cd;padding:.5rem}
.incidents{background:#f8d7da;padding:.2rem 1rem;margin-bottom:1rem}.incidents h2{font-size:1.1rem}
</style>
</head>
<body>
<header><h1>{{.W.Title}}</h1><p><a href="?lang={{.W.OtherLang}}" lang="{{.W.OtherLang}}">{{.W.OtherName}}</a> · <a href="bulletin?lang={{.W.Lang}}">{{.W.Bulletin}}</a> · {{.AsOf}}</p></header>
<main>
{{- if not .Ready}}
<p class="banner" role="status">{{.W.NotCaughtUp}}</p>
{{- end}}
{{- with .Incidents}}
<section class="incidents" role="alert"><h2>{{$.W.Incidents}}</h2><ul>{{range .}}<li>{{.}}</li>{{end}}</ul></section>
{{- end}}
{{- if .Rows}}
<table>
<thead><tr><th>{{.W.Feature}}</th><th>{{.W.Global}}</th>{{range .Regions}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><th scope="row">{{.Service}} / {{.Feature}}</th><td class="st st-{{.State}}">{{.StateText}}{{with .Note}}<small>{{.}}</small>{{end}}</td>
{{- range .Cells}}<td class="st st-{{.State}}">{{.Text}}{{with .Note}}<small>{{.}}</small>{{end}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>{{.W.NoFeatures}}</p>
{{- end}}
</main>
</body>
</html>
`))
