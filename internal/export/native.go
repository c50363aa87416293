package export

import (
	"math"
	"sort"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// The native (sparse) part of the duration histograms, sent on protobuf
// scrapes (expo.Native).
//
// Schema 3 to start: 8 buckets per doubling, each 9% wider than the one
// before, so the bucket a quantile falls in pins it to within 9% (4.4%
// either side of the bucket's geometric middle): finer than the classic
// buckets (a factor 2 to 2.5 apart), and what client_golang's
// NativeHistogramBucketFactor 1.1 gives.
//
// The buckets sit in a window of at most nativeWidth counts per histogram,
// allocated at the first value and grown (by doublings, from nativeMinWidth)
// to the span of the buckets in use, so that a check whose runs take about
// the same time holds a few counts, not nativeWidth, and observing allocates
// nothing once the window holds the span: 64 buckets at schema 3 span a
// factor 256 (5 ms to 1.3 s, say). The limit policy, in place of
// client_golang's NativeHistogramMaxBucketNumber: an observation outside the
// window moves or widens it when the buckets in use and the new one fit in
// nativeWidth; when they do not, the schema goes down by one (pairs of
// buckets merge, the span doubles: 65,536 at schema 2) until they fit, down
// to schema -4. There is no reset: the counts stay monotonic, the schema
// never goes back up while the agent runs (client_golang's with no
// NativeHistogramMinResetDuration does the same).
const (
	nativeSchema    = 3
	nativeMinSchema = -4
	nativeWidth     = 64
	nativeMinWidth  = 8 // the first window: 32 bytes
	// nativeZeroThreshold: a run shorter than a microsecond did nothing
	// (a check refused before it started); those count in the zero bucket.
	nativeZeroThreshold = 0x1p-20
)

// nativeBounds are, per schema from 1 to 3, the fractions (of math.Frexp)
// that bound a doubling's buckets, as client_golang has them.
var nativeBounds = func() (b [nativeSchema + 1][]float64) {
	for s := 1; s <= nativeSchema; s++ {
		n := 1 << s
		for i := range n {
			b[s] = append(b[s], math.Exp2(float64(i)/float64(n))/2)
		}
	}
	return b
}()

// nativeKey is the index of the bucket v (above the zero threshold) falls
// in at schema, computed as client_golang computes it.
func nativeKey(v float64, schema int8) int32 {
	frac, exp := math.Frexp(v)
	if schema > 0 {
		bounds := nativeBounds[schema]
		return int32(sort.SearchFloat64s(bounds, frac) + (exp-1)*len(bounds))
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	shift := -schema
	return int32((key + 1<<shift - 1) >> shift)
}

// sparse is a native histogram's buckets: counts[i] is bucket offset+i's.
// counts is nil until the first value above the zero threshold, then its
// length is a power of two from nativeMinWidth to nativeWidth. Its
// histogram's mutex guards it.
type sparse struct {
	schema int8
	offset int32
	zero   uint32
	counts []uint32
}

func (s *sparse) observe(v float64) {
	if !(v > nativeZeroThreshold) || math.IsInf(v, 1) {
		// Durations are not negative, NaN or infinite; the count and the
		// classic +Inf bucket still have such a value, as Prometheus allows.
		if v <= nativeZeroThreshold {
			s.zero++
		}
		return
	}
	if s.counts == nil {
		s.schema, s.counts = nativeSchema, make([]uint32, nativeMinWidth)
		s.offset = nativeKey(v, s.schema) - nativeMinWidth/2
	}
	for {
		key := nativeKey(v, s.schema)
		i := key - s.offset
		if i >= 0 && i < int32(len(s.counts)) {
			s.counts[i]++
			return
		}
		if !s.fit(key) {
			// Past schema -4's factor 2^(16*64), which durations do not
			// span: counted at the window's edge rather than lost.
			s.counts[min(max(i, 0), int32(len(s.counts))-1)]++
			return
		}
	}
}

// fit moves the window to hold key and the buckets in use, widening it up
// to nativeWidth, or, when they span more than nativeWidth, merges pairs of
// buckets (schema - 1); false when neither is possible.
func (s *sparse) fit(key int32) bool {
	lo, hi := key, key
	for i, c := range s.counts {
		if c != 0 {
			lo, hi = min(lo, s.offset+int32(i)), max(hi, s.offset+int32(i))
		}
	}
	if hi-lo < nativeWidth {
		width := int32(len(s.counts))
		for width <= hi-lo {
			width *= 2
		}
		// Centred, so that the next values either side fit too.
		s.move(lo-(width-1-(hi-lo))/2, width)
		return true
	}
	if s.schema == nativeMinSchema {
		return false
	}
	// In place: bucket i goes to ceil(i/2), at or before its index in the
	// window, whose count has been read by then.
	offset := (s.offset + 1) >> 1
	for i, c := range s.counts {
		s.counts[i] = 0
		s.counts[(s.offset+int32(i)+1)>>1-offset] += c
	}
	s.offset = offset
	s.schema--
	return true
}

// move makes offset the first bucket of a window of width counts (no
// narrower than the window); no bucket in use falls out. It allocates only
// to widen the window.
func (s *sparse) move(offset, width int32) {
	counts := s.counts
	if width != int32(len(counts)) {
		counts = make([]uint32, width)
	}
	shift := s.offset - offset // bucket i goes to i+shift
	switch {
	case width != int32(len(s.counts)):
		for i, c := range s.counts {
			if c != 0 {
				counts[int32(i)+shift] = c
			}
		}
	case shift >= width || -shift >= width:
		clear(counts) // the windows do not overlap: no bucket in use
	case shift > 0:
		copy(counts[shift:], counts[:width-shift])
		clear(counts[:shift])
	case shift < 0:
		copy(counts, counts[-shift:])
		clear(counts[width+shift:])
	}
	s.counts, s.offset = counts, offset
}

// native returns the buckets, their counts copied into counts.
func (s *sparse) native(counts *[nativeWidth]uint64) expo.Native {
	n := expo.Native{Schema: nativeSchema, ZeroThreshold: nativeZeroThreshold, ZeroCount: uint64(s.zero), Offset: s.offset}
	if s.counts != nil {
		n.Schema = int32(s.schema)
	}
	for i, c := range s.counts {
		counts[i] = uint64(c)
	}
	n.Counts = counts[:len(s.counts)]
	return n
}
