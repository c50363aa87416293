// Package stats summarises the harness's samples: quantiles of raw samples and
// the median and spread of repeated measurements.
package stats

import (
	"math"
	"slices"
)

// Quantile returns quantile q (0..1) of xs by linear interpolation between
// closest ranks; NaN for no samples. xs is not modified.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedQuantile(s, q)
}

func sortedQuantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return s[lo]
	}
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// Summary is the median and range of repeated measurements of one figure.
type Summary struct {
	N                int
	Median, Min, Max float64
}

// Summarize summarises xs, ignoring NaNs.
func Summarize(xs []float64) Summary {
	var s []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(s)
	return Summary{N: len(s), Median: sortedQuantile(s, 0.5), Min: s[0], Max: s[len(s)-1]}
}

// Max returns the largest of xs, NaN for none.
func Max(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}
