package web

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/sla"
)

// testClock is a settable sla.Clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// seoul is the status page's zone in these tests.
var seoul = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		return time.FixedZone("KST", 9*3600)
	}
	return loc
}()

// kst is a time on the day of the fire, 15 October 2022, or days before it.
func kst(daysBefore, h, m int) time.Time {
	return time.Date(2022, 10, 15-daysBefore, h, m, 0, 0, seoul)
}

// fireInterval is the fixture's check interval: longer than any gap between
// two results of the replay.
const fireInterval = 45 * 24 * time.Hour

// fireNow is when the scripted landscape is shown: 37 minutes into the fire.
var fireNow = kst(0, 16, 10)

// fireSpec is a feature with one check "api", thresholds 1 (3 to recover
// where noted), objective 99.9%. The check's interval is 45 days: a result
// with no run for 2 × interval + timeout counts as a failed run (issue 16),
// and the replay below leaves weeks between results so that each one shows
// a step of the story, not staleness.
func fireSpec(service, serviceTitle, feature, title, datacenter string) sla.FeatureSpec {
	return sla.FeatureSpec{
		Service: service, ServiceTitle: serviceTitle, Feature: feature, Title: title,
		Labels:    map[string]string{"datacenter": datacenter},
		Objective: 0.999, Window: 30 * 24 * time.Hour, FailureThreshold: 1, RecoveryThreshold: 1,
		Checks: []sla.CheckSpec{{Name: "api", Kind: "http", Interval: fireInterval, Timeout: 5 * time.Second}},
	}
}

// fireEngine replays the afternoon of 15 October 2022 on a real engine:
// four pangyo features down or recovering from 15:33 (one incident), mail
// degraded, payment in maintenance, transfer never checked; older outages
// on earlier days for the uptime bars, and an ended incident of the two
// busan features on 14 Oct. The clock ends at fireNow.
func fireEngine(t *testing.T) (*sla.Engine, *testClock) {
	t.Helper()
	clock := &testClock{t: kst(60, 9, 0)}
	engine, err := sla.Open(sla.Options{Path: t.TempDir(), Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	drawer := fireSpec("talk", "KakaoTalk", "drawer", "Chat rooms: Talk drawer", "pangyo")
	drawer.RecoveryThreshold = 3
	mail := fireSpec("daum", "Daum", "mail", "Daum / Kakao mail", "pangyo")
	mail.Latency = 800 * time.Millisecond
	payment := fireSpec("pay", "Kakao Pay", "payment", "Online / offline payment", "busan")
	payment.Maintenance = []sla.Maintenance{{Start: kst(0, 16, 0), Duration: time.Hour}}
	specs := []sla.FeatureSpec{
		fireSpec("talk", "KakaoTalk", "message", "Messages: send / receive", "pangyo"),
		drawer,
		fireSpec("talk", "KakaoTalk", "rooms", "Chat rooms: main functions", "busan"),
		fireSpec("talk", "KakaoTalk", "channel", "Talk Channel", "pangyo"),
		mail,
		fireSpec("daum", "Daum", "news", "News", "busan"),
		payment,
		fireSpec("pay", "Kakao Pay", "transfer", "Account transfer", "busan"),
		fireSpec("kakaomap", "Kakao Map", "roadview", "Road view", "pangyo"),
	}
	if err := engine.Configure(specs); err != nil {
		t.Fatal(err)
	}
	obs := func(service, feature string, when time.Time, ok bool, dur time.Duration, errText string) {
		t.Helper()
		clock.Set(when)
		engine.Observe(service, feature, "api", sla.Observation{Start: when, Duration: dur, Success: ok, Error: errText})
	}
	for _, s := range specs {
		if s.Feature != "transfer" {
			obs(s.Service, s.Feature, kst(60, 9, 0), true, 100*time.Millisecond, "")
		}
	}
	// Earlier outages: an hour on 12 Oct, ten minutes on 2 Oct.
	obs("talk", "message", kst(3, 2, 0), false, 0, "deliver: 3 of 3 messages lost")
	obs("talk", "message", kst(3, 3, 0), true, 0, "")
	obs("daum", "news", kst(13, 11, 0), false, 0, "HTTP 503")
	obs("daum", "news", kst(13, 11, 10), true, 0, "")
	// An ended incident: both busan features for 20 minutes on 14 Oct.
	obs("talk", "rooms", kst(1, 10, 0), false, 0, "HTTP 503")
	obs("daum", "news", kst(1, 10, 0), false, 0, "HTTP 503")
	obs("talk", "rooms", kst(1, 10, 20), true, 0, "")
	obs("daum", "news", kst(1, 10, 20), true, 0, "")
	// The fire.
	obs("talk", "message", kst(0, 15, 33), false, 0, "nats: no responders available for request")
	obs("talk", "drawer", kst(0, 15, 33), false, 0, "dial tcp 10.1.2.3:443: connect: connection refused")
	obs("kakaomap", "roadview", kst(0, 15, 34), false, 0, "HTTP 502")
	obs("talk", "channel", kst(0, 15, 36), false, 0, "i/o timeout")
	obs("daum", "mail", kst(0, 16, 0), true, 1500*time.Millisecond, "")
	obs("talk", "drawer", kst(0, 16, 5), true, 0, "")
	obs("talk", "rooms", kst(0, 16, 5), true, 0, "")
	clock.Set(fireNow)
	return engine, clock
}

// fireBackend serves the fire engine.
func fireBackend(t *testing.T) (*backend, *testClock) {
	engine, clock := fireEngine(t)
	return &backend{reg: prometheus.NewRegistry(), engine: engine}, clock
}
