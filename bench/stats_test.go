package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // reversed: percentile sorts
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"median of 100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"p50 of 3", []time.Duration{3, 1, 2}, 50, 2},
		{"p99 of 3", []time.Duration{3, 1, 2}, 99, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
			}
		})
	}
	if hundred[0] != 100*time.Millisecond {
		t.Error("percentile changed its input")
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		xs   []float64
		want summary
	}{
		{"empty", nil, summary{}},
		{"odd", []float64{5, 1, 3}, summary{Min: 1, Median: 3}},
		{"even", []float64{4, 1, 3, 2}, summary{Min: 1, Median: 2.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := summarize(tt.xs); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.xs, got, tt.want)
			}
		})
	}
}
