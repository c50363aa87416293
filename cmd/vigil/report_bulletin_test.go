package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// fixedClock is a settable clock for the engine that writes the store.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// TestReportBulletin writes a store as an agent would (one feature down,
// one recovering, one normal), closes it, and reads the bulletin back with
// `vigil report --format bulletin`: the states are the last recorded ones,
// as of the last heartbeat, not "unknown".
func TestReportBulletin(t *testing.T) {
	dir := t.TempDir()
	clock := &fixedClock{t: time.Date(2022, 10, 15, 6, 0, 0, 0, time.UTC)}
	e, err := sla.Open(sla.Options{Path: dir, Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	spec := func(feature, title string, recovery int) sla.FeatureSpec {
		return sla.FeatureSpec{Service: "talk", ServiceTitle: "KakaoTalk", Feature: feature, Title: title,
			Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: recovery,
			// An hour's interval: the results minutes apart hold until the
			// close (a silence counts failed runs since issue 16).
			Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: time.Hour, Timeout: 5 * time.Second}}}
	}
	if err := e.Configure([]sla.FeatureSpec{spec("drawer", "Chat rooms: Talk drawer", 3),
		spec("message", "Messages: send / receive", 1), spec("rooms", "Chat rooms: main functions", 1)}); err != nil {
		t.Fatal(err)
	}
	observe := func(feature string, at time.Time, ok bool) {
		clock.t = at
		e.Observe("talk", feature, "api", sla.Observation{Start: at, Success: ok, Error: "connection refused"})
	}
	start := clock.t
	observe("rooms", start, true)
	observe("message", start.Add(time.Minute), false)
	observe("drawer", start.Add(2*time.Minute), false)
	observe("drawer", start.Add(3*time.Minute), true)
	clock.t = time.Date(2022, 10, 15, 7, 10, 0, 0, time.UTC) // 16:10 KST
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct{ lang, want string }{
		{"en", "As of 15 Oct 16:10 KST —\n" +
			"KakaoTalk: Chat rooms: main functions normal (Talk drawer recovering); Messages: send / receive down\n"},
		{"ko", "10월 15일 16:10 KST 기준 —\n" +
			"KakaoTalk: Chat rooms: main functions 정상 (Talk drawer 복구 중); Messages: send / receive 장애\n"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			cmd := exec.Command(vigilBin, "report", "--storage.path="+dir, "--format=bulletin", "--lang="+tt.lang)
			cmd.Env = append(os.Environ(), "TZ=Asia/Seoul")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("vigil report --format=bulletin: %v\n%s", err, out)
			}
			if string(out) != tt.want {
				t.Errorf("bulletin:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}

	cmd := exec.Command(vigilBin, "report", "--storage.path="+dir, "--format=bulletin", "--lang=fr")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(string(out), `--lang "fr" is not en or ko`) {
		t.Errorf("--lang=fr: exit %d %q, want 2 naming the flag", code, out)
	}
}
