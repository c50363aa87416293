package agent

import (
	"fmt"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// TestShardsPartitionFeatures: the shards of N agents together run every
// feature exactly once, each shard gets a fair share, and a feature's checks
// always land in the same shard.
func TestShardsPartitionFeatures(t *testing.T) {
	const features, count = 3000, 3
	seen := map[string]int{}
	perShard := make([]int, count)
	for i := range features {
		key := fmt.Sprintf("svc-%d/feature-%d", i%37, i)
		n := 0
		for index := range count {
			if inShard(key, &config.Shard{Index: index, Count: count}) {
				n++
				perShard[index]++
			}
		}
		seen[key] = n
	}
	for key, n := range seen {
		if n != 1 {
			t.Fatalf("feature %s runs in %d shards, want exactly 1", key, n)
		}
	}
	for index, n := range perShard {
		if n < features/count*8/10 || n > features/count*12/10 {
			t.Errorf("shard %d/%d has %d of %d features, want about %d", index, count, n, features, features/count)
		}
	}
	if !inShard("any/feature", nil) || !inShard("any/feature", &config.Shard{Index: 0, Count: 1}) {
		t.Error("without sharding every feature must run")
	}
}

func TestShardFlagOverridesConfig(t *testing.T) {
	tg := startTargets(t)
	dir := t.TempDir()
	cfgFile := dir + "/vigil.yml"
	writeFile(t, cfgFile, tg.config(`      - name: f2
        checks: [{name: a, http: {url: "`+tg.http.URL+`"}}]
      - name: f3
        checks: [{name: a, http: {url: "`+tg.http.URL+`"}}]
      - name: f4
        checks: [{name: a, http: {url: "`+tg.http.URL+`"}}]
`))
	total := 0
	for index := range 2 {
		a, err := New(Options{ConfigFile: cfgFile, StoragePath: fmt.Sprintf("%s/data-%d", dir, index), Shard: &config.Shard{Index: index, Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		total += a.sched.Len()
		// The SLA engine knows only this shard's features.
		for _, f := range a.Engine().Features() {
			if !inShard(f.Service+"/"+f.Feature, &config.Shard{Index: index, Count: 2}) {
				t.Errorf("shard %d/2 evaluates %s/%s, which belongs to the other shard", index, f.Service, f.Feature)
			}
		}
		if err := a.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if total != 5 { // message-send-receive has 2 checks, f2..f4 one each
		t.Fatalf("the two shards schedule %d checks together, want all 5", total)
	}
}
