package expo

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// MarshalJSON writes the bound as Prometheus writes `le` ("+Inf" included,
// which JSON numbers cannot hold).
func (b Bucket) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"le":%q,"count":%s}`, fmtBound(b.UpperBound), fmtBound(b.Count))), nil
}

// Buckets collects the `le` buckets of the histogram series in samples (all of
// one series: the caller filters by labels), sorted by upper bound.
func Buckets(samples []Sample) ([]Bucket, error) {
	var out []Bucket
	for _, s := range samples {
		le := s.Get("le")
		if le == "" {
			continue
		}
		ub, err := parseValue(le)
		if err != nil {
			return nil, fmt.Errorf("bucket le=%q: %w", le, err)
		}
		out = append(out, Bucket{UpperBound: ub, Count: s.Value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpperBound < out[j].UpperBound })
	return out, nil
}

// Sub returns the buckets of b minus those of a (same bounds): the
// observations made between two scrapes.
func Sub(b, a []Bucket) ([]Bucket, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("histograms have %d and %d buckets", len(b), len(a))
	}
	out := make([]Bucket, len(b))
	for i := range b {
		if a[i].UpperBound != b[i].UpperBound {
			return nil, fmt.Errorf("bucket %d bounds differ: %s and %s", i, fmtBound(b[i].UpperBound), fmtBound(a[i].UpperBound))
		}
		out[i] = Bucket{UpperBound: b[i].UpperBound, Count: b[i].Count - a[i].Count}
	}
	return out, nil
}

func fmtBound(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Quantile estimates quantile q (0..1) of cumulative buckets the way PromQL's
// histogram_quantile does: linear interpolation inside the bucket holding the
// rank, the lowest bucket starting at 0, and the highest finite bound when the
// rank falls in +Inf. NaN when there are no observations.
func Quantile(q float64, buckets []Bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(buckets), func(i int) bool { return buckets[i].Count >= rank })
	if i == len(buckets) {
		i--
	}
	if math.IsInf(buckets[i].UpperBound, 1) {
		if i == 0 {
			return math.NaN()
		}
		return buckets[i-1].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = buckets[i-1].UpperBound, buckets[i-1].Count
	}
	inBucket := buckets[i].Count - below
	if inBucket == 0 {
		return buckets[i].UpperBound
	}
	return lower + (buckets[i].UpperBound-lower)*(rank-below)/inBucket
}

// CountAbove is how many observations are known to exceed bound: those in
// buckets whose lower edge is at or above it. bound should be a bucket edge.
func CountAbove(bound float64, buckets []Bucket) float64 {
	if len(buckets) == 0 {
		return 0
	}
	total := buckets[len(buckets)-1].Count
	for _, b := range buckets {
		if b.UpperBound >= bound {
			return total - b.Count
		}
	}
	return 0
}
