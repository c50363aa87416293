package schedule

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// TestIdleWheelHoldsNoGrowingQueueOfTurns: gocron starts a turn every second
// and a turn covers two; a turn that had to wait for the one before it must
// end when its own two seconds do, not two seconds after it began to turn,
// or one goroutine more waits in line every two seconds for good (issue 14:
// an idle agent went from 20 to 81 goroutines in two minutes).
func TestIdleWheelHoldsNoGrowingQueueOfTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop(context.Background())
		c := newCollector()
		spec := Spec{ID: "s/f/idle", Interval: 30 * time.Second, Timeout: time.Second, Fingerprint: "1",
			Build: func() (probes.Prober, error) { return okProber(), nil }, OnResult: c.onResult("s/f/idle")}
		if _, err := s.Apply([]Spec{spec}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		before := runtime.NumGoroutine()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		after := runtime.NumGoroutine()
		if after > before+2 {
			t.Errorf("goroutines grew from %d to %d in two idle minutes", before, after)
		}
		// The check ran in each of its slots meanwhile: 130 s at 30 s.
		if n := c.count("s/f/idle"); n < 4 || n > 5 {
			t.Errorf("check ran %d times in 130 s at a 30 s interval, want 4 or 5", n)
		}
	})
}
