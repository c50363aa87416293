package slo

import (
	"fmt"
	"math"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// Objective is one feature's objective as vigil.yml states it.
type Objective struct {
	Service      string
	Feature      string
	ServiceTitle string
	Title        string
	// Objective is the percentage, 99.9.
	Objective float64
	// Window is the rolling duration or calendar period; Timezone the
	// calendar period's zone ("" for UTC or a rolling window).
	Window   config.SLOWindow
	Timezone string
}

// FromConfig lists every feature's objective of cfg (validated, so every
// feature has its SLO), in config order.
func FromConfig(cfg *config.Config) []Objective {
	var out []Objective
	for _, s := range cfg.Services {
		for _, f := range s.Features {
			o := Objective{Service: s.Name, Feature: f.Name, ServiceTitle: s.Title, Title: f.Title,
				Objective: f.SLO.Objective, Window: f.SLO.Window}
			if f.SLO.Window.Calendar != "" {
				o.Timezone = f.SLO.Timezone
				if o.Timezone == "UTC" {
					o.Timezone = ""
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// ratio is the objective as a ratio, rounded as the agent rounds it (at
// most 7 decimal places of the percentage), so 99.9 is 0.999, not
// 0.9990000000000001.
func (o Objective) ratio() float64 { return math.Round(o.Objective*1e7) / 1e9 }

// percentOf is ratio's inverse.
func percentOf(ratio float64) float64 { return math.Round(ratio*1e9) / 1e7 }

// selector is the PromQL selector of the feature's vigil_feature_up.
func (o Objective) selector() string {
	return fmt.Sprintf(`vigil_feature_up{service=%q,feature=%q}`, o.Service, o.Feature)
}

// describe is a one-line description of the objective for the documents.
func (o Objective) describe() string {
	title := o.Title
	if title == "" {
		title = o.Feature
	}
	service := o.ServiceTitle
	if service == "" {
		service = o.Service
	}
	return fmt.Sprintf("%s: %s (Vigil feature %s/%s): %s of the time not down, over %s",
		service, title, o.Service, o.Feature, formatPercent(o.Objective), o.windowText())
}

func (o Objective) windowText() string {
	if o.Window.Calendar == "" {
		return o.Window.String()
	}
	zone := o.Timezone
	if zone == "" {
		zone = "UTC"
	}
	return o.Window.Calendar + " in " + zone
}

func formatPercent(p float64) string { return fmt.Sprintf("%v%%", p) }

// rollingEquivalent is the rolling window closest to o's: its own, or for
// a calendar period the rolling window of about its length (for tools
// that have no calendar windows), with ok false then.
func (o Objective) rollingEquivalent() (d time.Duration, ok bool) {
	switch o.Window.Calendar {
	case config.CalendarMonth:
		return 30 * 24 * time.Hour, false
	case config.CalendarWeek:
		return 7 * 24 * time.Hour, false
	}
	return o.Window.Rolling, true
}
