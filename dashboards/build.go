package dashboards

import (
	"fmt"
	"strings"
)

// datasource is the ${datasource} variable every panel and query uses, so
// that the dashboards import into any Grafana with any Prometheus name.
var datasource = &Datasource{Type: "prometheus", UID: "${datasource}"}

// newDashboard fills what Vigil's dashboards share and lays out the panels.
func newDashboard(uid, title, description string, vars []Variable, panels ...*Panel) *Dashboard {
	return &Dashboard{
		UID:           uid,
		Title:         title,
		Description:   description,
		Tags:          []string{"vigil"},
		Editable:      true,
		GraphTooltip:  1, // shared crosshair
		Refresh:       "30s",
		SchemaVersion: 39,
		Version:       1,
		Time:          TimeRange{From: "now-6h", To: "now"},
		Timezone:      "browser",
		Templating:    Templating{List: append([]Variable{datasourceVariable()}, vars...)},
		Annotations:   Annotations{List: []Annotation{}},
		Links: []Link{{
			Title: "Vigil", Type: "dashboards", Tags: []string{"vigil"},
			AsDropdown: true, IncludeVars: true, KeepTime: true,
		}},
		Panels: layout(panels),
	}
}

// layout numbers the panels and places them left to right, wrapping at the
// 24-column width; a row starts a new line.
func layout(panels []*Panel) []*Panel {
	x, y, lineHeight := 0, 0, 0
	for i, p := range panels {
		p.ID = i + 1
		if p.Type == "row" || x+p.GridPos.W > 24 {
			x, y, lineHeight = 0, y+lineHeight, 0
		}
		p.GridPos.X, p.GridPos.Y = x, y
		x += p.GridPos.W
		lineHeight = max(lineHeight, p.GridPos.H)
		for j := range p.Targets {
			p.Targets[j].RefID = string(rune('A' + j))
		}
	}
	return panels
}

func datasourceVariable() Variable {
	return Variable{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus", Refresh: 1, Options: []struct{}{}}
}

// labelValues is a query variable over label_values(metric{selector}, label).
// Multi-value variables offer "All", which selects ".*".
func labelValues(name, metric, selector string, multi bool) Variable {
	query := fmt.Sprintf("label_values(%s, %s)", metric, name)
	if selector != "" {
		query = fmt.Sprintf("label_values(%s{%s}, %s)", metric, selector, name)
	}
	v := Variable{
		Name: name, Label: name, Type: "query", Datasource: datasource,
		Query: query, Definition: query, Refresh: 2, Sort: 1,
		Multi: multi, IncludeAll: multi, Options: []struct{}{},
	}
	if multi {
		v.AllValue = ".*"
	}
	return v
}

// query is a range query drawn over time.
func query(expr, legend string) Target {
	return Target{Datasource: datasource, Expr: expr, LegendFormat: legend, Range: true, Format: "time_series"}
}

// instant is a query of the latest values, shown as a table.
func instant(expr string) Target {
	return Target{Datasource: datasource, Expr: expr, Instant: true, Format: "table"}
}

func newPanel(kind, title, unit string, w, h int, targets []Target) *Panel {
	return &Panel{
		Type: kind, Title: title, Datasource: datasource,
		GridPos: GridPos{W: w, H: h},
		Targets: targets,
		FieldConfig: &FieldConfig{
			Defaults: FieldDefaults{
				Unit:       unit,
				Color:      map[string]any{"mode": "palette-classic"},
				Thresholds: Thresholds{Mode: "absolute", Steps: []Step{{Color: "green"}}},
				Mappings:   []Mapping{},
			},
			Overrides: []any{},
		},
	}
}

func row(title string) *Panel {
	collapsed := false
	return &Panel{Type: "row", Title: title, GridPos: GridPos{W: 24, H: 1}, Collapsed: &collapsed}
}

func timeseries(title, unit string, w int, targets ...Target) *Panel {
	p := newPanel("timeseries", title, unit, w, 8, targets)
	p.FieldConfig.Defaults.Custom = map[string]any{"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": false}
	p.Options = map[string]any{
		"legend":  map[string]any{"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []string{"lastNotNull", "max"}},
		"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
	}
	return p
}

func stat(title, unit string, w int, targets ...Target) *Panel {
	p := newPanel("stat", title, unit, w, 4, targets)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
		"colorMode":     "background", "graphMode": "none", "textMode": "auto",
		"orientation": "auto", "justifyMode": "auto",
	}
	return p
}

func stateTimeline(title string, w, h int, mappings Mapping, targets ...Target) *Panel {
	p := newPanel("state-timeline", title, "", w, h, targets)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Mappings = []Mapping{mappings}
	p.FieldConfig.Defaults.Custom = map[string]any{"fillOpacity": 80, "lineWidth": 0}
	p.Options = map[string]any{
		"mergeValues": true, "showValue": "never", "alignValue": "left", "rowHeight": 0.9,
		"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
		"tooltip": map[string]any{"mode": "single"},
	}
	return p
}

func table(title, unit string, w, h int, targets ...Target) *Panel {
	p := newPanel("table", title, unit, w, h, targets)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults.Custom = map[string]any{"align": "auto", "cellOptions": map[string]any{"type": "auto"}}
	p.Options = map[string]any{"showHeader": true, "cellHeight": "sm", "footer": map[string]any{"show": false}}
	return p
}

func barGauge(title, unit string, w, h int, targets ...Target) *Panel {
	p := newPanel("bargauge", title, unit, w, h, targets)
	p.FieldConfig.Defaults.Color = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": true, "valueMode": "color",
		"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
	}
	return p
}

func (p *Panel) describe(text string) *Panel {
	p.Description = text
	return p
}

// steps sets the thresholds: a base color, then (value, color) pairs upwards.
func (p *Panel) steps(base string, next ...any) *Panel {
	s := []Step{{Color: base}}
	for i := 0; i+1 < len(next); i += 2 {
		v := toFloat(next[i])
		s = append(s, Step{Value: &v, Color: next[i+1].(string)})
	}
	p.FieldConfig.Defaults.Thresholds.Steps = s
	return p
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("threshold %v is not a number", v))
}

func (p *Panel) limits(lo, hi float64) *Panel {
	p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = &lo, &hi
	return p
}

func (p *Panel) decimals(n int) *Panel {
	p.FieldConfig.Defaults.Decimals = &n
	return p
}

func (p *Panel) mapping(m Mapping) *Panel {
	p.FieldConfig.Defaults.Mappings = append(p.FieldConfig.Defaults.Mappings, m)
	return p
}

// thresholdLines draws the thresholds as dashed lines on a time series.
func (p *Panel) thresholdLines() *Panel {
	p.FieldConfig.Defaults.Custom["thresholdsStyle"] = map[string]any{"mode": "dashed"}
	return p
}

func (p *Panel) stacked() *Panel {
	p.FieldConfig.Defaults.Custom["stacking"] = map[string]any{"mode": "normal", "group": "A"}
	return p
}

// cellColors colors table cells by their thresholds or mapped colors.
func (p *Panel) cellColors() *Panel {
	p.FieldConfig.Defaults.Custom["cellOptions"] = map[string]any{"type": "color-background"}
	return p
}

func (p *Panel) transform(id string, options map[string]any) *Panel {
	p.Transformations = append(p.Transformations, Transformation{ID: id, Options: options})
	return p
}

// hideColumns hides the label columns a table does not need.
func (p *Panel) hideColumns(names ...string) *Panel {
	exclude := map[string]any{}
	for _, n := range names {
		exclude[n] = true
	}
	return p.transform("organize", map[string]any{"excludeByName": exclude})
}

// states are the feature states in the order of their codes in stateCode.
var states = []MappingValue{
	{Text: "up", Color: "green"},
	{Text: "degraded", Color: "yellow"},
	{Text: "recovering", Color: "blue"},
	{Text: "down", Color: "red"},
	{Text: "maintenance", Color: "purple"},
	{Text: "unknown", Color: "text"},
}

// stateCode turns the one-hot vigil_feature_state series into one series per
// feature whose value is the state's index in states, for state timelines
// and status grids.
func stateCode(selector string, by ...string) string {
	terms := make([]string, len(states))
	for i, s := range states {
		terms[i] = fmt.Sprintf(`(vigil_feature_state{%s, state="%s"} == 1) * %d`, selector, s.Text, i)
	}
	return fmt.Sprintf("max by (%s) (\n    %s\n)", strings.Join(by, ", "), strings.Join(terms, "\n  or "))
}

func stateMapping() Mapping {
	m := Mapping{Type: "value", Options: map[string]MappingValue{}}
	for i, s := range states {
		s.Index = i
		m.Options[fmt.Sprint(i)] = s
	}
	return m
}

// passFail maps a 0/1 series to fail/pass.
func passFail(zero, one string) Mapping {
	return Mapping{Type: "value", Options: map[string]MappingValue{
		"0": {Text: zero, Color: "red", Index: 0},
		"1": {Text: one, Color: "green", Index: 1},
	}}
}
