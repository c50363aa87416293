package procstat

import (
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (vigil) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 2000000 3000 18446744073709551615", 3250 * time.Millisecond, false},
		{"name with spaces and parens", "99 (a b) c)) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0 0", 100 * time.Millisecond, false},
		{"truncated", "99 (x) R 1 2 3", 0, true},
		{"no name", "99 x R", 0, true},
		{"bad number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 3 0 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStat = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    Sample
		wantErr bool
	}{
		{"complete", "Name:\tvigil\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n", Sample{RSS: 100 << 20, HWM: 200 << 20, Threads: 12}, false},
		{"anon and file", "VmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   81920 kB\nRssFile:\t   20480 kB\nThreads:\t12\n",
			Sample{RSS: 100 << 20, HWM: 200 << 20, RSSAnon: 80 << 20, RSSFile: 20 << 20, Threads: 12}, false},
		{"anon without rss", "VmHWM:\t1 kB\nRssAnon:\t1 kB\nRssFile:\t1 kB\nThreads:\t1\n", Sample{}, true},
		{"missing rss", "Name:\tvigil\nVmHWM:\t 1 kB\nThreads:\t1\n", Sample{HWM: 1024, Threads: 1}, true},
		{"not kB", "VmRSS:\t1 MB\nVmHWM:\t1 kB\nThreads:\t1\n", Sample{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Sample
			err := parseStatus([]byte(tt.status), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("parseStatus = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadSelf reads this very process: its CPU grows with work done and its
// RSS is plausible.
func TestReadSelf(t *testing.T) {
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least 30 ms of CPU (3 ticks), bounded in time.
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		now, err := Self()
		if err != nil {
			t.Fatal(err)
		}
		if now-before.CPU >= 30*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU did not grow by 30ms in 5s (x=%d)", x)
		}
	}
	if before.RSS < 1<<20 || before.RSS > before.HWM || before.Threads < 1 {
		t.Errorf("implausible sample %+v", before)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Error("Read of a pid that cannot exist: want an error")
	}
}
