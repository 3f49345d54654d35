package report

import (
	"math"
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
