package web

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// The bulletin is the form of Kakao's recovery notice of 17 October 2022:
// one line per service, the features that work listed briefly as normal and
// the exceptions in parentheses with their state, e.g.
//
//	As of 17 Oct 09:00 KST —
//	KakaoTalk: Messages: send / receive normal; Chat rooms: main functions normal (Talk drawer recovering)
//
// Features whose titles share a prefix before ": " ("Chat rooms: main
// functions", "Chat rooms: Talk drawer") are grouped under it, as the notice
// grouped them; features without a prefix form one group of their own.

// bulletinAllNormalOver is how many features a service with nothing wrong
// must exceed to be summed up as "all N features normal" instead of listed.
const bulletinAllNormalOver = 4

// segment is a run of bulletin text; State is set on the words that name
// an exception's state, so that HTML can color them.
type segment struct {
	Text  string
	State sla.State
}

// bulletinLine is one service's line.
type bulletinLine struct {
	Service  string // the service's title
	Segments []segment
	// Worst is the worst state among the service's features.
	Worst sla.State
}

// Text is the line without markup, after the service's title.
func (l bulletinLine) Text() string {
	var b strings.Builder
	for _, s := range l.Segments {
		b.WriteString(s.Text)
	}
	return b.String()
}

// bulletinGroup is the features of a service sharing a title prefix.
type bulletinGroup struct {
	name       string
	normal     []string
	exceptions []sla.FeatureStatus
	titles     []string // exception titles, without the prefix
}

// bulletinLines builds the lines, services in the order features come
// (Features() sorts them by service; the page puts them in config order).
func bulletinLines(features []sla.FeatureStatus, c *catalog) []bulletinLine {
	var lines []bulletinLine
	for start := 0; start < len(features); {
		end := start + 1
		for end < len(features) && features[end].Service == features[start].Service {
			end++
		}
		lines = append(lines, bulletinService(features[start:end], c))
		start = end
	}
	return lines
}

func bulletinService(features []sla.FeatureStatus, c *catalog) bulletinLine {
	line := bulletinLine{Service: features[0].ServiceTitle, Worst: sla.StateUp}
	if line.Service == "" {
		line.Service = features[0].Service
	}
	var groups []*bulletinGroup
	byName := map[string]*bulletinGroup{}
	allNormal := true
	for _, f := range features {
		title := f.Title
		if title == "" {
			title = f.Feature
		}
		name, item, found := strings.Cut(title, ": ")
		if !found {
			name, item = "", title
		}
		g := byName[name] // features without a prefix make one group too
		if g == nil {
			g = &bulletinGroup{name: name}
			groups = append(groups, g)
			byName[name] = g
		}
		if f.State == sla.StateUp {
			g.normal = append(g.normal, item)
			continue
		}
		allNormal = false
		g.exceptions = append(g.exceptions, f)
		g.titles = append(g.titles, item)
		if worse(f.State, line.Worst) {
			line.Worst = f.State
		}
	}
	if allNormal && len(features) > bulletinAllNormalOver {
		text := fmt.Sprintf("all %d features normal", len(features))
		if c.lang == "ko" {
			text = fmt.Sprintf("기능 %d개 모두 정상", len(features))
		}
		line.Segments = []segment{{Text: text}}
		return line
	}
	normalWord := c.state(sla.StateUp, true)
	add := func(text string, st sla.State) { line.Segments = append(line.Segments, segment{Text: text, State: st}) }
	for i, g := range groups {
		if i > 0 {
			add("; ", "")
		}
		if g.name != "" {
			add(g.name+": ", "")
		}
		if len(g.normal) > 0 {
			add(strings.Join(g.normal, ", ")+" "+normalWord, "")
		}
		if len(g.exceptions) == 0 {
			continue
		}
		if len(g.normal) > 0 {
			add(" (", "")
		}
		for j, f := range g.exceptions {
			if j > 0 {
				add(", ", "")
			}
			add(g.titles[j]+" ", "")
			add(c.state(f.State, true), f.State)
		}
		if len(g.normal) > 0 {
			add(")", "")
		}
	}
	return line
}

// worse reports whether a is a worse state than b.
func worse(a, b sla.State) bool {
	rank := func(s sla.State) int {
		for i, st := range summaryOrder {
			if st == s {
				return i
			}
		}
		return len(summaryOrder)
	}
	return rank(a) < rank(b)
}

// bulletinHeader is "As of 17 Oct 09:00 KST" / "10월 17일 09:00 KST 기준".
func bulletinHeader(asOf time.Time, c *catalog) string {
	return fmt.Sprintf(c.AsOf, c.dateTime(asOf)+" "+asOf.Format("MST"))
}

// WriteBulletin writes the bulletin as plain text: a header line with the
// time, in asOf's location, then one line per service. lang is "en" or "ko"
// (Korean for any ko variant, English otherwise). features are as
// sla.Engine.Features or LastKnown return them, sorted by service.
func WriteBulletin(w io.Writer, features []sla.FeatureStatus, asOf time.Time, lang string) error {
	return writeBulletin(w, features, "", asOf, catalogByName(lang))
}

// writeBulletin is WriteBulletin with a note line under the header (an
// impaired vantage), none if note is "".
func writeBulletin(w io.Writer, features []sla.FeatureStatus, note string, asOf time.Time, c *catalog) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, bulletinHeader(asOf, c)+" —")
	if note != "" {
		fmt.Fprintln(b, note)
	}
	if len(features) == 0 {
		fmt.Fprintln(b, c.NoFeatures)
	}
	for _, line := range bulletinLines(features, c) {
		fmt.Fprintf(b, "%s: %s\n", line.Service, line.Text())
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write bulletin: %w", err)
	}
	return nil
}

// bulletinVantage is the bulletin's line while the agent's vantage is
// impaired, "" while it is up.
func bulletinVantage(v sla.VantageStatus, c *catalog, now time.Time) string {
	switch {
	case v.Up || !v.Configured:
		return ""
	case v.Since.IsZero():
		return c.BulletinVantageNoSince
	}
	return fmt.Sprintf(c.BulletinVantage, c.shortTime(v.Since.In(now.Location()), now))
}

// bulletinPage serves /bulletin: HTML, or text with ?format=text.
func (s *Server) bulletinPage(w http.ResponseWriter, r *http.Request) {
	c := catalogFor(r)
	pc := s.pageConfig()
	now := s.backend.Engine().Now().In(s.location(pc))
	features := pc.localized(pc.configOrder(s.readFeatures()), c)
	note := bulletinVantage(s.readVantage(), c, now)
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		setLanguageHeaders(w, c)
		if err := writeBulletin(w, features, note, now, c); err != nil {
			s.opts.Logger.Debug("bulletin not sent", "err", err)
		}
		return
	}
	data := s.pageBase(r, c, c.BulletinTitle, now)
	data.Header = bulletinHeader(now, c)
	data.VantageNote = note
	data.Lines = bulletinLines(features, c)
	s.render(w, bulletinTemplate, c, data)
}
