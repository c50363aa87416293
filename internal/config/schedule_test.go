package config

import (
	"strings"
	"testing"
	"time"
)

func scheduleConfig(check string) []byte {
	return []byte(`agent: {region: kr-central-1}
services:
  - name: talk
    features:
      - name: send
        checks:
` + check)
}

// TestCheckScheduleIsACronExpressionInAZone: a check may run on a cron
// schedule instead of an interval; its interval becomes the longest gap
// between two runs, for the staleness rule.
func TestCheckScheduleIsACronExpressionInAZone(t *testing.T) {
	tests := []struct {
		schedule, timezone string
		gap                time.Duration
	}{
		{"0 9 * * 1-5", "Asia/Seoul", 72 * time.Hour}, // Friday 09:00 to Monday 09:00
		{"*/15 * * * *", "", 15 * time.Minute},
		{"@daily", "UTC", 24 * time.Hour},
	}
	for _, tt := range tests {
		check := "          - name: journey\n            schedule: \"" + tt.schedule + "\"\n"
		if tt.timezone != "" {
			check += "            timezone: " + tt.timezone + "\n"
		}
		check += "            http: {url: \"http://127.0.0.1:8080/\"}\n"
		cfg, err := Parse("vigil.yml", scheduleConfig(check))
		if err != nil {
			t.Fatalf("%s: %v", tt.schedule, err)
		}
		ref := cfg.Checks()[0]
		if ref.Cron != tt.schedule || ref.Interval != tt.gap {
			t.Errorf("%s: cron %q interval %s, want %q and %s", tt.schedule, ref.Cron, ref.Interval, tt.schedule, tt.gap)
		}
		wantZone := tt.timezone
		if wantZone == "" {
			wantZone = "UTC"
		}
		if ref.Location.String() != wantZone {
			t.Errorf("%s: zone %s, want %s", tt.schedule, ref.Location, wantZone)
		}
	}
}

func TestCheckScheduleErrors(t *testing.T) {
	tests := []struct{ check, want string }{
		{"          - name: j\n            schedule: \"61 * * * *\"\n            http: {url: \"http://127.0.0.1/\"}\n",
			`vigil.yml:8: services[0].features[0].checks[0].schedule: cron expression "61 * * * *"`},
		{"          - name: j\n            schedule: \"0 9 * * *\"\n            interval: 10s\n            http: {url: \"http://127.0.0.1/\"}\n",
			"services[0].features[0].checks[0].schedule: set either interval or schedule, not both"},
		{"          - name: j\n            schedule: \"0 9 * * *\"\n            timezone: Mars/Olympus\n            http: {url: \"http://127.0.0.1/\"}\n",
			`services[0].features[0].checks[0].timezone: unknown time zone "Mars/Olympus"`},
		{"          - name: j\n            timezone: Asia/Seoul\n            http: {url: \"http://127.0.0.1/\"}\n",
			"services[0].features[0].checks[0].timezone: applies to schedule, which is not set"},
		{"          - name: j\n            schedule: \"CRON_TZ=Asia/Seoul 0 9 * * *\"\n            http: {url: \"http://127.0.0.1/\"}\n",
			"give the time zone as timezone"},
	}
	for _, tt := range tests {
		_, err := Parse("vigil.yml", scheduleConfig(tt.check))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config\n%s: error %v, want one containing %q", tt.check, err, tt.want)
		}
	}
}
