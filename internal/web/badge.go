package web

import (
	"fmt"
	"html"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
	"github.com/vigil-monitoring/vigil/sla"
)

// Badge colors: one per state, and for availability whether it meets the
// objective. White text on each has a contrast of 4.5:1 or more.
var (
	badgeStateColors = map[sla.State]string{sla.StateUp: "#2e7d32", sla.StateDegraded: "#8a5300",
		sla.StateRecovering: "#0a5ca8", sla.StateDown: "#b3261e", sla.StateMaintenance: "#574bbd", sla.StateUnknown: "#616161"}
	badgeLabelColor = "#555555"
	badgeMetColor   = "#2e7d32"
	badgeMissColor  = "#b3261e"
	badgeNoneColor  = "#616161"
)

// defaultBadgeWindow is the availability badge's window without ?window=.
const defaultBadgeWindow = 30 * 24 * time.Hour

// badge serves /badge/{service}.svg (the service's worst state) and
// /badge/{service}/{feature}.svg (the feature's), or with
// ?metric=availability&window=30d the availability over the window (a
// service's: its lowest feature's). ?label= replaces the left text (the
// title), ?lang= picks the language of the state words and titles.
func (s *Server) badge(w http.ResponseWriter, r *http.Request) {
	c := catalogFor(r)
	pc := s.pageConfig()
	service, file := r.PathValue("service"), r.PathValue("file")
	name, ok := strings.CutSuffix(file, ".svg")
	if !ok || name == "" {
		badgeNotFound(w, r, fmt.Sprintf("%s: a badge is <name>.svg", r.URL.Path))
		return
	}
	feature := name
	if service == "" {
		service, feature = name, ""
	}
	var matched []sla.FeatureStatus
	for _, f := range s.readFeatures() {
		if f.Service == service && (feature == "" || f.Feature == feature) {
			matched = append(matched, f)
		}
	}
	if len(matched) == 0 {
		what := "service " + service
		if feature != "" {
			what = "feature " + service + "/" + feature
		}
		badgeNotFound(w, r, what+" is not configured")
		return
	}
	label := pc.serviceTitle(c, service, matched[0].ServiceTitle)
	if feature != "" {
		label = pc.featureTitle(c, service, feature, matched[0].Title)
	}
	if l := r.URL.Query().Get("label"); l != "" {
		label = l
	}
	var value, color string
	switch metric := r.URL.Query().Get("metric"); metric {
	case "", "state":
		worst := sla.StateUp
		for _, f := range matched {
			if worse(f.State, worst) {
				worst = f.State
			}
		}
		value, color = c.state(worst, true), badgeStateColors[worst]
	case "availability":
		window := defaultBadgeWindow
		if v := r.URL.Query().Get("window"); v != "" {
			d, err := probeconfig.ParseDuration(v)
			if err != nil || d <= 0 {
				badRequest(w, "window: %q is not a positive duration like 30d", v)
				return
			}
			window = d
		}
		value, color = s.availabilityBadge(matched, window, c)
	default:
		badRequest(w, "metric: %q is not state or availability", metric)
		return
	}
	writeBadge(w, http.StatusOK, label, value, color)
}

// availabilityBadge is the lowest availability of features over the last
// window, green when each meets its objective.
func (s *Server) availabilityBadge(features []sla.FeatureStatus, window time.Duration, c *catalog) (string, string) {
	engine := s.backend.Engine()
	now := engine.Now()
	report := engine.Report(now.Add(-window), now)
	lowest, met, found := math.Inf(1), true, false
	for _, rf := range report.Features {
		for _, f := range features {
			if rf.Service != f.Service || rf.Feature != f.Feature || rf.NoData {
				continue
			}
			found = true
			lowest = min(lowest, rf.Availability)
			met = met && rf.Met
		}
	}
	if !found {
		return c.NoData, badgeNoneColor
	}
	if met {
		return percent(lowest), badgeMetColor
	}
	return percent(lowest), badgeMissColor
}

// badgeNotFound is a 404: JSON for a client that asks for JSON, else a
// grey badge, so that an embedded image shows what went wrong.
func badgeNotFound(w http.ResponseWriter, r *http.Request, msg string) {
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "application/json") && !strings.Contains(accept, "image/") {
		jsonError(w, http.StatusNotFound, msg)
		return
	}
	writeBadge(w, http.StatusNotFound, "vigil", "not found", badgeNoneColor)
}

// writeBadge writes a flat badge in the shape of shields.io's: a grey label
// and a colored value, text in 11 px Verdana (or what the reader has), the
// widths computed here since no font is loaded.
func writeBadge(w http.ResponseWriter, status int, label, value, color string) {
	const pad = 6
	lw, vw := textWidth(label)+2*pad, textWidth(value)+2*pad
	total := lw + vw
	esc := html.EscapeString
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title>`+
		`<rect width="%d" height="20" fill="%s"/><rect x="%d" width="%d" height="20" fill="%s"/>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`+"\n",
		total, esc(label), esc(value), esc(label), esc(value),
		lw, badgeLabelColor, lw, vw, color,
		lw/2, esc(label), lw+vw/2, esc(value))
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	h.Set("Cache-Control", "max-age=30")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(svg))
}

// textWidth estimates the width in pixels of s in 11 px Verdana: narrow,
// wide and capital letters apart, and a full em for Hangul, kana and Han.
func textWidth(s string) int {
	var width float64
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
			unicode.Is(unicode.Katakana, r) || (r >= 0xFF01 && r <= 0xFF60):
			width += 11
		case strings.ContainsRune("iljI!|.,:;'`", r):
			width += 3.5
		case strings.ContainsRune("frt()[]{}/\\- ", r):
			width += 4.5
		case strings.ContainsRune("mwMW%@", r):
			width += 10.5
		case unicode.IsUpper(r):
			width += 7.5
		case unicode.IsDigit(r):
			width += 7
		default:
			width += 6.5
		}
	}
	return int(math.Ceil(width))
}
