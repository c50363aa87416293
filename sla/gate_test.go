package sla

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBurnConditionsMatchShippedRules: the page and ticket conditions the
// gate evaluates are those of deploy/prometheus/vigil-rules.yml (severity
// page: VigilErrorBudgetFastBurn, ticket: VigilErrorBudgetSlowBurn).
func TestBurnConditionsMatchShippedRules(t *testing.T) {
	data, err := os.ReadFile("../deploy/prometheus/vigil-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	pair := regexp.MustCompile(`vigil_sla_burn_rate\{window="(\w+)"\} > ([0-9.]+) and ignoring \(window\) vigil_sla_burn_rate\{window="(\w+)"\} > ([0-9.]+)`)
	severity := regexp.MustCompile(`severity: (\w+)`)
	var got []BurnCondition
	for _, block := range strings.Split(string(data), "- alert: ")[1:] {
		if !strings.HasPrefix(block, "VigilErrorBudget") {
			continue
		}
		sev := severity.FindStringSubmatch(block)
		for _, m := range pair.FindAllStringSubmatch(block, -1) {
			long, _ := strconv.ParseFloat(m[2], 64)
			short, _ := strconv.ParseFloat(m[4], 64)
			if long != short {
				t.Errorf("%s: the two windows have thresholds %v and %v", m[0], long, short)
			}
			got = append(got, BurnCondition{Alert: BurnAlert(sev[1]), Long: m[1], Short: m[3], Factor: long})
		}
	}
	if !reflect.DeepEqual(got, BurnConditions) {
		t.Errorf("shipped rules' burn-rate pairs\n %+v\nthe gate's\n %+v", got, BurnConditions)
	}
}

// TestFiringAtThreshold: a pair fires only when both windows burn above
// its factor, not at it.
func TestFiringAtThreshold(t *testing.T) {
	set := func(burns map[string]float64) *FeatureFigures {
		r := &FeatureFigures{}
		for name, v := range burns {
			r.Burn[burnIndex(name)] = v
		}
		return r
	}
	cases := []struct {
		name  string
		burns map[string]float64
		want  []BurnAlert
	}{
		{"at 14.4", map[string]float64{"1h": 14.4, "5m": 20}, nil},
		{"just above 14.4", map[string]float64{"1h": 14.41, "5m": 14.41}, []BurnAlert{AlertPage}},
		{"long only", map[string]float64{"6h": 7, "30m": 5}, nil},
		{"6h pair and ticket", map[string]float64{"6h": 7, "30m": 7, "3d": 1.5}, []BurnAlert{AlertPage, AlertTicket}},
		{"1d pair", map[string]float64{"1d": 3.5, "2h": 3.5}, []BurnAlert{AlertTicket}},
	}
	for _, c := range cases {
		var got []BurnAlert
		for _, cond := range set(c.burns).Firing() {
			got = append(got, cond.Alert)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: firing %v, want %v", c.name, got, c.want)
		}
	}
}
