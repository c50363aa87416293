package globalview

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// The benchmark ingests a day of records of regions × features (one agent
// per region, heartbeats every 10 s, each feature present all day with two
// outages per region, opened and closed, at times near each other across
// regions so some are global), then times the readers at the end of the day.
//
//	go test -run '^$' -bench View/100x1000 -benchmem ./internal/globalview
//	go test -run '^$' -bench View/100x10000 -benchmem -benchtime 3x ./internal/globalview

type benchSize struct{ regions, features int }

var benchViews = map[benchSize]*View{}

func benchView(b testing.TB, size benchSize) *View {
	if v, ok := benchViews[size]; ok {
		return v
	}
	day := 24 * time.Hour
	clock := &fakeClock{now: t0.Add(day)}
	v := New(Options{Clock: clock})
	rng := rand.New(rand.NewPCG(1, 2))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	records := 0
	ingest := func(r Record) {
		if err := v.Ingest(r); err != nil {
			b.Fatal(err)
		}
		records++
	}
	bases := make([][2]int, size.features)
	for f := range bases {
		bases[f] = [2]int{rng.IntN(40000), 45000 + rng.IntN(40000)}
	}
	for reg := range size.regions {
		agent, region := fmt.Sprintf("agent-%03d", reg), fmt.Sprintf("region-%03d", reg)
		var seq uint64
		rec := func(typ string, atSec int) Record {
			seq++
			return Record{V: 1, Seq: seq, Agent: agent, Region: region, At: at(atSec), Type: typ}
		}
		for s := 0; s <= int(day/time.Second); s += 10 {
			r := rec(TypeHeartbeat, s)
			r.VantageUp, r.Features = true, size.features
			ingest(r)
		}
		for f := range size.features {
			feature := fmt.Sprintf("feature-%05d", f)
			r := rec(TypePresence, 0)
			r.Service, r.Feature, r.Start = "svc", feature, at(0)
			ingest(r)
			for i, base := range bases[f] {
				startSec := base + rng.IntN(120)
				o := rec(TypeOutage, startSec)
				o.Service, o.Feature, o.ID, o.Start = "svc", feature, uint64(f*2+i+1), at(startSec)
				o.Cause = sla.Cause{Check: "api", Error: "503"}
				ingest(o)
				o2 := o
				o2.Seq = seq + 1
				seq++
				o2.End = endAt(startSec + 60 + rng.IntN(600))
				ingest(o2)
			}
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("%d regions × %d features: %d records ingested in %v (%.0f ns/record), heap %d MiB",
		size.regions, size.features, records, elapsed.Round(time.Millisecond),
		float64(elapsed.Nanoseconds())/float64(records), (after.HeapAlloc-before.HeapAlloc)>>20)
	benchViews[size] = v
	return v
}

func BenchmarkView(b *testing.B) {
	for _, size := range []benchSize{{100, 1000}, {100, 10000}} {
		name := fmt.Sprintf("%dx%d", size.regions, size.features)
		b.Run(name+"/Features", func(b *testing.B) {
			v := benchView(b, size)
			b.ReportAllocs()
			for b.Loop() {
				if fs := v.Features(); len(fs) != size.features {
					b.Fatalf("%d features", len(fs))
				}
			}
		})
		b.Run(name+"/Figures", func(b *testing.B) {
			v := benchView(b, size)
			var buf []FeatureFigures
			b.ReportAllocs()
			for b.Loop() {
				buf = v.AppendFigures(buf[:0])
			}
			if len(buf) != size.features {
				b.Fatalf("%d features", len(buf))
			}
		})
	}
}

// TestReadsSplitOverCores: the readers give the same answers computed on
// one core as split over several (forEach's workers).
func TestReadsSplitOverCores(t *testing.T) {
	v := benchView(t, benchSize{3, 4 * minPerWorker})
	read := func() string {
		rep := v.Report(t0, t0.Add(24*time.Hour))
		return fmt.Sprint(v.Features(), v.Figures(), v.Outages("", "", time.Time{}, time.Time{}), rep.Features)
	}
	prev := runtime.GOMAXPROCS(1)
	one := read()
	runtime.GOMAXPROCS(4)
	split := read()
	runtime.GOMAXPROCS(prev)
	if one != split {
		t.Error("reads differ between one core and four")
	}
	if n := len(v.Outages("", "", time.Time{}, time.Time{})); n == 0 {
		t.Error("no global outage in the landscape: the comparison says little")
	}
}
