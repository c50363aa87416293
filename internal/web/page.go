package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The pages carry everything inline (no CDN, no web fonts, no separate
// requests), and a Content-Security-Policy that allows exactly the inline
// style and script by hash: nothing injected into a page can run.
var (
	//go:embed templates/*.html
	templateFS embed.FS
	//go:embed assets/style.css
	styleCSS string
	//go:embed assets/refresh.js
	refreshJS string

	statusTemplate   = pageTemplate("templates/status.html")
	bulletinTemplate = pageTemplate("templates/bulletin.html")

	contentSecurityPolicy = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; connect-src 'self'; "+
		"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", cspHash(styleCSS), cspHash(refreshJS))
)

func pageTemplate(content string) *template.Template {
	return template.Must(template.New("layout").ParseFS(templateFS, "templates/layout.html", content))
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Refresh bounds: ?refresh=N (seconds) is clamped to them.
const (
	defaultRefresh = 10
	minRefresh     = 2
	maxRefresh     = 3600
)

// pageData is what the layout and both pages render.
type pageData struct {
	T          *catalog
	Title      string
	Page       string // "status" or "bulletin"
	Public     bool   // the public view: no probe errors, no API links
	Refresh    int
	AsOf, Zone string
	// Story is the time of the story being played (vigil demo), "" when
	// there is none.
	Story string

	StatusHref, BulletinHref, OtherLangHref, OtherLang string

	CSS    template.CSS
	Script template.JS

	// The status page.
	StoreWarning   string       // history is not being saved
	Vantage        *vantageView // the agent's own network is impaired
	Summary        summaryView
	Incidents      []incidentView
	Maintenance    []maintenanceView
	Legend         []legendItem
	Services       []serviceView
	Outages        []outageView
	OutagesCaption string

	// The bulletin.
	Header      string
	VantageNote string // the agent's own network is impaired
	Lines       []bulletinLine
}

// location is where the pages show times: the config's web.timezone, else
// Options.Location, else the machine's local zone (TZ).
func (s *Server) location(pc *pageConfig) *time.Location {
	if pc.location != nil {
		return pc.location
	}
	if s.opts.Location != nil {
		return s.opts.Location
	}
	return time.Local
}

// pageTitle is e.g. "Vigil — status (kr-central-1)".
func (s *Server) pageTitle(base string) string {
	region := s.opts.Region
	if region == "" {
		region = s.backend.Engine().Region()
	}
	if region == "" {
		return base
	}
	return base + " (" + region + ")"
}

func (s *Server) pageBase(r *http.Request, c *catalog, title string, now time.Time) *pageData {
	refresh := defaultRefresh
	if n, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil {
		refresh = min(max(n, minRefresh), maxRefresh)
	}
	other := korean
	if c == korean {
		other = english
	}
	query := func(lang string) string {
		q := url.Values{"lang": {lang}}
		if refresh != defaultRefresh {
			q.Set("refresh", strconv.Itoa(refresh))
		}
		return "?" + q.Encode()
	}
	page := "status"
	self := "./"
	switch r.URL.Path {
	case "/bulletin":
		page, self = "bulletin", "bulletin"
	case "/internal", "/public":
		self = r.URL.Path[1:]
	}
	status := "./"
	if page == "status" {
		status = self
	}
	zone := now.Format("MST")
	if offset := now.Format("-07:00"); zone != "UTC" {
		zone += " (UTC" + offset + ")"
	}
	data := &pageData{
		T: c, Title: s.pageTitle(title), Page: page, Refresh: refresh,
		AsOf: fmt.Sprintf(c.AsOf, c.dateTime(now)), Zone: fmt.Sprintf(c.TimesIn, zone),
		StatusHref: status + query(c.lang), BulletinHref: "bulletin" + query(c.lang),
		OtherLangHref: self + query(other.lang), OtherLang: other.lang,
		CSS: template.CSS(styleCSS), Script: template.JS(refreshJS),
	}
	if s.opts.StoryClock != nil {
		if story := s.opts.StoryClock(); !story.IsZero() {
			data.Story = fmt.Sprintf(c.StoryTime, c.dateTime(story))
		}
	}
	return data
}

// render executes a page into a buffer first, so that a template error
// becomes a 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, t *template.Template, c *catalog, data *pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.opts.Logger.Error("render page", "page", data.Page, "err", err)
		http.Error(w, "could not render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	setLanguageHeaders(w, c)
	_, _ = w.Write(buf.Bytes())
}

func setLanguageHeaders(w http.ResponseWriter, c *catalog) {
	w.Header().Set("Content-Language", c.lang)
	w.Header().Add("Vary", "Accept-Language")
}
