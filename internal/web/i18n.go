package web

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/vigil-monitoring/vigil/sla"
)

// catalog holds the words of the status page and the bulletin in one
// language. Only English and Korean exist: the bulletin Vigil imitates was
// Korean, and its readers read both.
type catalog struct {
	lang string // BCP 47: "en" or "ko"
	// stateWords name each state on the page; bulletin words are lower case
	// in English.
	stateWords map[sla.State]string

	StatusTitle, BulletinTitle, OtherLanguage            string
	IncidentsHeading, OutagesHeading, BulletinLink       string
	StatusLink, NoOutages, NoFeatures, TimesIn, AsOf     string
	Feature, Started, Duration, Cause, Ongoing, NoData   string
	Affected, Objective, Meets, Below, LastDays          string
	LegendNone, LegendMinor, LegendPartial, LegendMajor  string
	LegendNoData, LegendHeading, StaleNote, APILinks     string
	ThirtyDays, DaysAgo, Today, NavLabel, OutagesCaption string
	// StoreFailing is the status page's banner while history is not saved:
	// the error, since when, how many records wait.
	StoreFailing string
	// VantageImpaired is the status page's banner while the agent's canaries
	// fail: since when, for how long; VantageReason carries their error.
	VantageImpaired, VantageImpairedNoSince, VantageReason string
	// BulletinVantage is the bulletin's line while the vantage is impaired:
	// since when.
	BulletinVantage, BulletinVantageNoSince string
	// Flapping badges a feature whose state keeps changing; FlappingTip
	// explains it.
	Flapping, FlappingTip string
	// StoryTime is the time of the story a demo plays: "15 Oct 15:41, story
	// time"; MonitoringSince is an uptime bar's left label once monitoring
	// began less than 90 days ago.
	StoryTime, MonitoringSince string
	// UpdatesHeading heads an incident's updates; FeedLink and BadgeHelp
	// name the feed and the badges in the footer.
	UpdatesHeading, FeedLink string
	// MaintenanceHeading heads the planned windows under way or ahead.
	MaintenanceHeading string
	// updateWords name an update's status (investigating, identified,
	// monitoring, resolved).
	updateWords map[string]string
	// publicReasons explain a state to the public, without probe errors;
	// Slow is a degraded feature that answers, slowly.
	publicReasons                 map[sla.State]string
	PublicReasonSlow, FeedSubject string
}

var (
	english = &catalog{
		lang: "en",
		stateWords: map[sla.State]string{sla.StateUp: "Normal", sla.StateDegraded: "Degraded", sla.StateRecovering: "Recovering",
			sla.StateDown: "Down", sla.StateMaintenance: "Maintenance", sla.StateUnknown: "Unknown"},
		StatusTitle: "Vigil — status", BulletinTitle: "Vigil — bulletin", OtherLanguage: "한국어",
		IncidentsHeading: "Active incidents", OutagesHeading: "Past outages", BulletinLink: "Bulletin",
		StatusLink: "Status page", NoOutages: "No outages recorded.", NoFeatures: "No features configured.",
		TimesIn: "Times in %s.", AsOf: "As of %s",
		Feature: "Feature", Started: "Started", Duration: "Duration", Cause: "Cause", Ongoing: "ongoing, %s so far",
		NoData: "no data", Affected: "Affected features (%d)", Objective: "objective %s", Meets: "meets objective",
		Below: "below objective", LastDays: "last %d days",
		LegendHeading: "Uptime bar, one cell per day:", LegendNone: "no downtime", LegendMinor: "under 1% down",
		LegendPartial: "1–10% down", LegendMajor: "over 10% down", LegendNoData: "no data",
		StaleNote: "Could not refresh: the page may be out of date.", APILinks: "Data:",
		ThirtyDays: "30 days", DaysAgo: "%d days ago", Today: "today", NavLabel: "Pages",
		OutagesCaption:         "The last %d outages, newest first",
		StoreFailing:           "History is not being saved: %[1]v since %[2]s; %[3]d records waiting.",
		VantageImpaired:        "This agent's own network is impaired since %[1]s (%[2]s): its figures for this time are not counted.",
		VantageImpairedNoSince: "This agent's own network is impaired: its figures for this time are not counted.",
		VantageReason:          "Reason: %s",
		BulletinVantage:        "Note: this agent's own network is impaired since %s; what it sees now is not counted.",
		BulletinVantageNoSince: "Note: this agent's own network is impaired; what it sees now is not counted.",
		Flapping:               "Flapping",
		FlappingTip:            "Its state has changed often lately; its downtime is still counted.",
		StoryTime:              "%s, story time",
		MonitoringSince:        "monitoring since %s",
		UpdatesHeading:         "Updates",
		MaintenanceHeading:     "Planned maintenance",
		FeedLink:               "Atom feed",
		FeedSubject:            "Status of %s",
		updateWords: map[string]string{"investigating": "Investigating", "identified": "Identified",
			"monitoring": "Monitoring", "resolved": "Resolved"},
		publicReasons: map[sla.State]string{
			sla.StateDown:        "Not working: our checks from this region fail.",
			sla.StateDegraded:    "Partly working: some of our checks fail.",
			sla.StateRecovering:  "Working again; we are confirming the recovery before calling it normal.",
			sla.StateMaintenance: "Planned maintenance.",
			sla.StateUnknown:     "Not checked yet.",
		},
		PublicReasonSlow: "Slower than usual.",
	}
	korean = &catalog{
		lang: "ko",
		stateWords: map[sla.State]string{sla.StateUp: "정상", sla.StateDegraded: "성능 저하", sla.StateRecovering: "복구 중",
			sla.StateDown: "장애", sla.StateMaintenance: "점검 중", sla.StateUnknown: "확인 중"},
		StatusTitle: "Vigil — 서비스 상태", BulletinTitle: "Vigil — 복구 현황", OtherLanguage: "English",
		IncidentsHeading: "진행 중인 장애", OutagesHeading: "지난 장애", BulletinLink: "복구 현황",
		StatusLink: "서비스 상태", NoOutages: "기록된 장애가 없습니다.", NoFeatures: "설정된 기능이 없습니다.",
		TimesIn: "시간대: %s.", AsOf: "%s 기준",
		Feature: "기능", Started: "시작", Duration: "지속 시간", Cause: "원인", Ongoing: "진행 중, 현재 %s",
		NoData: "데이터 없음", Affected: "영향받은 기능 (%d개)", Objective: "목표 %s", Meets: "목표 달성",
		Below: "목표 미달", LastDays: "최근 %d일",
		LegendHeading: "가동 막대, 하루에 한 칸:", LegendNone: "장애 없음", LegendMinor: "장애 1% 미만",
		LegendPartial: "장애 1–10%", LegendMajor: "장애 10% 초과", LegendNoData: "데이터 없음",
		StaleNote: "새로 고치지 못했습니다. 오래된 정보일 수 있습니다.", APILinks: "데이터:",
		ThirtyDays: "30일", DaysAgo: "%d일 전", Today: "오늘", NavLabel: "페이지",
		OutagesCaption:         "최근 장애 %d건, 최신순",
		StoreFailing:           "%[2]s부터 이력이 저장되지 않고 있습니다: %[1]v. 기록 %[3]d건이 저장을 기다립니다.",
		VantageImpaired:        "%[1]s부터 이 에이전트 자체의 네트워크에 문제가 있습니다(%[2]s째). 이 시간의 수치는 집계되지 않습니다.",
		VantageImpairedNoSince: "이 에이전트 자체의 네트워크에 문제가 있습니다. 이 시간의 수치는 집계되지 않습니다.",
		VantageReason:          "원인: %s",
		BulletinVantage:        "참고: %s부터 이 에이전트 자체의 네트워크에 문제가 있어, 지금 보이는 상태는 집계되지 않습니다.",
		BulletinVantageNoSince: "참고: 이 에이전트 자체의 네트워크에 문제가 있어, 지금 보이는 상태는 집계되지 않습니다.",
		Flapping:               "불안정",
		FlappingTip:            "최근 상태가 자주 바뀌었습니다. 장애 시간은 그대로 집계됩니다.",
		StoryTime:              "시나리오 시각 %s",
		MonitoringSince:        "%s부터 감시",
		UpdatesHeading:         "진행 상황",
		MaintenanceHeading:     "예정된 점검",
		FeedLink:               "Atom 피드",
		FeedSubject:            "%s 상태",
		updateWords: map[string]string{"investigating": "원인 파악 중", "identified": "원인 확인",
			"monitoring": "모니터링 중", "resolved": "해결됨"},
		publicReasons: map[sla.State]string{
			sla.StateDown:        "이용할 수 없습니다. 이 리전의 점검이 실패하고 있습니다.",
			sla.StateDegraded:    "일부 기능이 원활하지 않습니다. 점검 일부가 실패하고 있습니다.",
			sla.StateRecovering:  "다시 작동합니다. 정상으로 판단하기 전에 복구를 확인하고 있습니다.",
			sla.StateMaintenance: "예정된 점검 중입니다.",
			sla.StateUnknown:     "아직 점검하지 않았습니다.",
		},
		PublicReasonSlow: "평소보다 느립니다.",
	}
)

var languageMatcher = language.NewMatcher([]language.Tag{language.English, language.Korean})

// catalogFor picks the language: ?lang= first, then Accept-Language, else
// English.
func catalogFor(r *http.Request) *catalog {
	tag, _ := language.MatchStrings(languageMatcher, r.URL.Query().Get("lang"), r.Header.Get("Accept-Language"))
	return catalogByName(tag.String())
}

// catalogByName returns Korean for "ko" and its variants, else English.
func catalogByName(lang string) *catalog {
	if base, _ := language.Make(lang).Base(); base.String() == "ko" {
		return korean
	}
	return english
}

// Lang is the catalog's BCP 47 language, for the lang attribute.
func (c *catalog) Lang() string { return c.lang }

// state names a state; in the bulletin English words are lower case.
func (c *catalog) state(s sla.State, inSentence bool) string {
	w, ok := c.stateWords[s]
	if !ok {
		w = string(s)
	}
	if inSentence && c.lang == "en" {
		return strings.ToLower(w)
	}
	return w
}

// date formats a day: "17 Oct" / "10월 17일".
func (c *catalog) date(t time.Time) string {
	if c.lang == "ko" {
		return fmt.Sprintf("%d월 %d일", t.Month(), t.Day())
	}
	return t.Format("2 Jan")
}

// dateTime formats a moment: "17 Oct 09:00" / "10월 17일 09:00".
func (c *catalog) dateTime(t time.Time) string { return c.date(t) + " " + t.Format("15:04") }

// shortTime is the time alone when t is on the same day as now, else the
// date and time.
func (c *catalog) shortTime(t, now time.Time) string {
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return c.dateTime(t)
}

// duration formats seconds at most two units: "2h 5m" / "2시간 5분".
func (c *catalog) duration(sec float64) string {
	units := []struct {
		size   int64
		en, ko string
	}{{86400, "d", "일"}, {3600, "h", "시간"}, {60, "m", "분"}, {1, "s", "초"}}
	rest := int64(math.Round(sec))
	if rest <= 0 {
		if c.lang == "ko" {
			return "0초"
		}
		return "0s"
	}
	var parts []string
	for _, u := range units {
		if n := rest / u.size; n > 0 && len(parts) < 2 {
			if c.lang == "ko" {
				parts = append(parts, strconv.FormatInt(n, 10)+u.ko)
			} else {
				parts = append(parts, strconv.FormatInt(n, 10)+u.en)
			}
			rest -= n * u.size
		} else if len(parts) > 0 {
			break // "1d 5m" would mislead less than it helps
		}
	}
	return strings.Join(parts, " ")
}

// percent formats a ratio with up to three decimals, never rounding up to
// 100%: "99.95%", "100%".
func percent(ratio float64) string {
	p := ratio * 100
	if ratio < 1 {
		p = math.Floor(p*1000) / 1000
	}
	s := strconv.FormatFloat(p, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// labelName names a grouping label: "Data center" / "데이터센터".
func (c *catalog) labelName(key string) string {
	names := map[string][2]string{
		"datacenter": {"Data center", "데이터센터"}, "data_center": {"Data center", "데이터센터"},
		"dc": {"Data center", "데이터센터"}, "region": {"Region", "리전"}, "zone": {"Zone", "존"},
		"az": {"Zone", "존"}, "availability_zone": {"Zone", "존"}, "dependency": {"Dependency", "의존 서비스"},
		"depends_on": {"Dependency", "의존 서비스"}, "provider": {"Provider", "제공자"}, "network": {"Network", "네트워크"},
	}
	if n, ok := names[strings.ToLower(key)]; ok {
		if c.lang == "ko" {
			return n[1]
		}
		return n[0]
	}
	if c.lang == "en" && key != "" {
		return strings.ToUpper(key[:1]) + key[1:]
	}
	return key
}

// incidentText is the banner line, its features counted per state:
// "Data center pangyo: 3 features down, 1 recovering since 15:33" /
// "데이터센터 pangyo: 기능 3개 장애, 1개 복구 중 (15:33부터)". Only features
// whose outage is still open count.
func (c *catalog) incidentText(inc sla.Incident, loc *time.Location, now time.Time) string {
	since := c.shortTime(inc.Start.In(loc), now.In(loc))
	what := c.labelName(inc.Label) + " " + inc.Value
	counts := map[sla.State]int{}
	for _, f := range inc.Features {
		if f.End == nil {
			counts[f.State]++
		}
	}
	var parts []string
	for _, st := range summaryOrder {
		n := counts[st]
		if n == 0 {
			continue
		}
		switch {
		case c.lang == "ko" && len(parts) == 0:
			parts = append(parts, fmt.Sprintf("기능 %d개 %s", n, c.state(st, true)))
		case c.lang == "ko":
			parts = append(parts, fmt.Sprintf("%d개 %s", n, c.state(st, true)))
		case len(parts) == 0 && n == 1:
			parts = append(parts, fmt.Sprintf("1 feature %s", c.state(st, true)))
		case len(parts) == 0:
			parts = append(parts, fmt.Sprintf("%d features %s", n, c.state(st, true)))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n, c.state(st, true)))
		}
	}
	if len(parts) == 0 { // the engine's count, should the states be unknown
		parts = []string{fmt.Sprintf("%d", inc.ActiveCount)}
	}
	if c.lang == "ko" {
		return fmt.Sprintf("%s: %s (%s부터)", what, strings.Join(parts, ", "), since)
	}
	return fmt.Sprintf("%s: %s since %s", what, strings.Join(parts, ", "), since)
}

// publicReason explains a state to the public: no check names, no probe
// errors, no targets. raw is the engine's reason, read only to tell a slow
// feature from a failing one.
func (c *catalog) publicReason(st sla.State, raw string) string {
	if st == sla.StateUp {
		return ""
	}
	if st == sla.StateDegraded && strings.HasPrefix(raw, "slowest passing run") {
		return c.PublicReasonSlow
	}
	return c.publicReasons[st]
}

// Patterns of the engine's reasons (sla's reason.String), translated on the
// internal view; what they quote (check names, errors) stays as it is.
var (
	reasonFailing    = regexp.MustCompile(`^check (\S+) failing: (.*)$`)
	reasonSlow       = regexp.MustCompile(`^slowest passing run (\S+) over (\S+)$`)
	reasonRecovering = regexp.MustCompile(`^recovering: check (\S+) (\d+) of (\d+) passing runs$`)
)

// reason is the engine's reason in c's language: English as it is, Korean
// part by part ("recovering: ...; check ... failing: ...").
func (c *catalog) reason(raw string) string {
	if c.lang != "ko" || raw == "" {
		return raw
	}
	parts := strings.Split(raw, "; ")
	for i, p := range parts {
		if m := reasonRecovering.FindStringSubmatch(p); m != nil {
			parts[i] = fmt.Sprintf("복구 중: 체크 %s 연속 성공 %s/%s회", m[1], m[2], m[3])
		} else if m := reasonSlow.FindStringSubmatch(p); m != nil {
			parts[i] = fmt.Sprintf("가장 느린 성공 실행 %s, 기준 %s 초과", m[1], m[2])
		} else if m := reasonFailing.FindStringSubmatch(p); m != nil {
			parts[i] = fmt.Sprintf("체크 %s 실패: %s", m[1], m[2])
		}
	}
	return strings.Join(parts, "; ")
}

// updateView is an operator's update in c's language: the message in that
// language, else in English, else in any.
func (c *catalog) updateView(u IncidentUpdate, loc *time.Location, now time.Time) updateView {
	msg, ok := u.Message[c.lang]
	if !ok {
		msg, ok = u.Message["en"]
	}
	if !ok {
		langs := make([]string, 0, len(u.Message))
		for l := range u.Message {
			langs = append(langs, l)
		}
		slices.Sort(langs)
		if len(langs) > 0 {
			msg = u.Message[langs[0]]
		}
	}
	status, ok := c.updateWords[u.Status]
	if !ok {
		status = u.Status
	}
	return updateView{Time: c.shortTime(u.Time.In(loc), now.In(loc)), TimeISO: u.Time.UTC().Format(time.RFC3339),
		Status: status, StatusClass: u.Status, Message: msg}
}

// summary counts features per state: "12 features: 9 normal, 1 down" /
// "기능 12개: 정상 9, 장애 1".
func (c *catalog) summary(counts map[sla.State]int, total int) string {
	var parts []string
	for _, st := range summaryOrder {
		if n := counts[st]; n > 0 {
			if c.lang == "ko" {
				parts = append(parts, fmt.Sprintf("%s %d", c.state(st, true), n))
			} else {
				parts = append(parts, fmt.Sprintf("%d %s", n, c.state(st, true)))
			}
		}
	}
	if c.lang == "ko" {
		return fmt.Sprintf("기능 %d개: %s", total, strings.Join(parts, ", "))
	}
	noun := "features"
	if total == 1 {
		noun = "feature"
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, ", "))
}

// summaryOrder lists states worst first, for summaries and the overall
// color.
var summaryOrder = []sla.State{sla.StateDown, sla.StateRecovering, sla.StateDegraded, sla.StateMaintenance,
	sla.StateUnknown, sla.StateUp}

// dayTip is a bar cell's tooltip: "3 Nov: 99.931% available, 1m down".
func (c *catalog) dayTip(d sla.Day) string {
	date := c.date(d.Date)
	if d.EligibleSeconds <= 0 {
		s := date + ": " + c.NoData
		if d.MaintenanceSeconds > 0 {
			s += c.maintenanceNote(d.MaintenanceSeconds)
		}
		return s
	}
	var s string
	switch {
	case c.lang == "ko" && d.DowntimeSeconds > 0:
		s = fmt.Sprintf("%s: 가용률 %s, 장애 %s", date, percent(d.Availability), c.duration(d.DowntimeSeconds))
	case c.lang == "ko":
		s = fmt.Sprintf("%s: 가용률 %s", date, percent(d.Availability))
	case d.DowntimeSeconds > 0:
		s = fmt.Sprintf("%s: %s available, %s down", date, percent(d.Availability), c.duration(d.DowntimeSeconds))
	default:
		s = fmt.Sprintf("%s: %s available", date, percent(d.Availability))
	}
	if d.MaintenanceSeconds > 0 {
		s += c.maintenanceNote(d.MaintenanceSeconds)
	}
	return s
}

func (c *catalog) maintenanceNote(sec float64) string {
	if c.lang == "ko" {
		return ", 점검 " + c.duration(sec)
	}
	return ", " + c.duration(sec) + " maintenance"
}

// barLabel is the text alternative of a feature's uptime bar.
func (c *catalog) barLabel(days []sla.Day) string {
	var down, eligible float64
	var bad []string
	for _, d := range days {
		down, eligible = down+d.DowntimeSeconds, eligible+d.EligibleSeconds
		if d.DowntimeSeconds > 0 {
			bad = append(bad, fmt.Sprintf("%s (%s)", c.date(d.Date), c.duration(d.DowntimeSeconds)))
		}
	}
	avail := 1.0
	if eligible > 0 {
		avail = 1 - down/eligible
	}
	const listed = 10
	more := ""
	if len(bad) > listed {
		if c.lang == "ko" {
			more = fmt.Sprintf(" 외 %d일", len(bad)-listed)
		} else {
			more = fmt.Sprintf(" and %d more", len(bad)-listed)
		}
		bad = bad[:listed]
	}
	if c.lang == "ko" {
		s := fmt.Sprintf("최근 %d일: 가용률 %s", len(days), percent(avail))
		if eligible <= 0 {
			s = fmt.Sprintf("최근 %d일: 데이터 없음", len(days))
		}
		if len(bad) == 0 {
			return s + "; 장애 없음"
		}
		return fmt.Sprintf("%s; 장애가 있었던 날: %s%s", s, strings.Join(bad, ", "), more)
	}
	s := fmt.Sprintf("Last %d days: %s available", len(days), percent(avail))
	if eligible <= 0 {
		s = fmt.Sprintf("Last %d days: no data", len(days))
	}
	if len(bad) == 0 {
		return s + "; no downtime"
	}
	return fmt.Sprintf("%s; days with downtime: %s%s", s, strings.Join(bad, ", "), more)
}

// since is "since 15 Oct 15:33 (2h 5m)" / "10월 15일 15:33부터 (2시간 5분)".
func (c *catalog) since(t, now time.Time) string {
	if c.lang == "ko" {
		return fmt.Sprintf("%s부터 (%s)", c.shortTime(t, now), c.duration(now.Sub(t).Seconds()))
	}
	return fmt.Sprintf("since %s (%s)", c.shortTime(t, now), c.duration(now.Sub(t).Seconds()))
}
