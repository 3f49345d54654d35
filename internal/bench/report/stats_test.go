package report

import (
	"math"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want summary
	}{
		{name: "one", in: []float64{4}, want: summary{N: 1, Min: 4, Median: 4, Max: 4}},
		{name: "odd count, unsorted", in: []float64{9, 1, 5}, want: summary{N: 3, Min: 1, Median: 5, Max: 9}},
		{name: "even count takes the mean of the middle two", in: []float64{4, 1, 3, 10}, want: summary{N: 4, Min: 1, Median: 3.5, Max: 10}},
		{name: "two", in: []float64{2, 3}, want: summary{N: 2, Min: 2, Median: 2.5, Max: 3}},
		{name: "duplicates", in: []float64{7, 7, 7, 1}, want: summary{N: 4, Min: 1, Median: 7, Max: 7}},
		{name: "negative values", in: []float64{-1, -3, 2}, want: summary{N: 3, Min: -3, Median: -1, Max: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := summarize(in); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("summarize reordered its input: %v", in)
			}
		})
	}
}

func TestSummarizeEmpty(t *testing.T) {
	got := summarize(nil)
	if got.N != 0 || !math.IsNaN(got.Median) || !math.IsNaN(got.Min) || !math.IsNaN(got.Max) {
		t.Errorf("summarize(nil) = %+v, want N 0 and NaN elsewhere", got)
	}
}
