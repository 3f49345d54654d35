package report

import (
	"math"
	"math/rand/v2"
	"slices"
)

// summary is the spread of one metric's samples for one init.
type summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// summarize returns min, median and max of xs. The median of an even
// count is the mean of the two middle values. An empty input gives N == 0
// and NaN elsewhere, which callers must check for through N.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		nan := math.NaN()
		return summary{Min: nan, Median: nan, Max: nan}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return summary{N: n, Min: s[0], Median: med, Max: s[n-1]}
}

// median is summarize(xs).Median.
func Median(xs []float64) float64 { return summarize(xs).Median }

// medianDifference returns median(a) - median(b) and its 95% interval,
// from 2,000 bootstrap resamples of both (each resample draws len(a) of a
// and len(b) of b with replacement). The generator's seed is fixed: the
// same samples always give the same interval.
func medianDifference(a, b []float64) (d, lo, hi float64) {
	const resamples = 2000
	d = Median(a) - Median(b)
	rng := rand.New(rand.NewPCG(1, 2))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	diffs := make([]float64, resamples)
	for i := range diffs {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		diffs[i] = Median(ra) - Median(rb)
	}
	slices.Sort(diffs)
	return d, diffs[resamples*25/1000], diffs[resamples*975/1000-1]
}
