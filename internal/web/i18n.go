package web

import (
	"fmt"
	"math"
	"net/http"
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

// incidentText is the banner line: "Data center pangyo: 37 features down
// since 15:33" / "데이터센터 pangyo: 기능 37개 장애 (15:33부터)".
func (c *catalog) incidentText(inc sla.Incident, loc *time.Location, now time.Time) string {
	since := c.shortTime(inc.Start.In(loc), now.In(loc))
	what := c.labelName(inc.Label) + " " + inc.Value
	if c.lang == "ko" {
		return fmt.Sprintf("%s: 기능 %d개 장애 (%s부터)", what, inc.ActiveCount, since)
	}
	noun := "features"
	if inc.ActiveCount == 1 {
		noun = "feature"
	}
	return fmt.Sprintf("%s: %d %s down since %s", what, inc.ActiveCount, noun, since)
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
