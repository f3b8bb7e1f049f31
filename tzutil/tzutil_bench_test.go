package tzutil

import (
	"testing"
	"time"
)

var sinkTime time.Time
var sinkLoc *time.Location

// BenchmarkStartOfDay compares tzutil.StartOfDay with the common (wrong on
// DST days) time.Date(y, m, d, 0, 0, 0, 0, loc), cycling through a year of
// instants in zones with and without DST. Goal: plumb ≤ 3× the naive cost.
func BenchmarkStartOfDay(b *testing.B) {
	var ts []time.Time
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Asia/Shanghai", "America/Sao_Paulo"} {
		loc := MustLoad(z)
		for d := 0; d < 365; d += 7 {
			ts = append(ts, time.Date(2024, 1, 1, 15, 30, 0, 0, loc).AddDate(0, 0, d))
		}
	}
	b.Run("plumb", func(b *testing.B) {
		i := 0
		for b.Loop() {
			sinkTime = StartOfDay(ts[i%len(ts)])
			i++
		}
	})
	b.Run("naive-time.Date", func(b *testing.B) {
		i := 0
		for b.Loop() {
			t := ts[i%len(ts)]
			y, m, d := t.Date()
			sinkTime = time.Date(y, m, d, 0, 0, 0, 0, t.Location())
			i++
		}
	})
}

// BenchmarkLoad compares a repeated (cached) tzutil.Load with
// time.LoadLocation, which reads and parses the zone file on every call.
// Goal: plumb ≥ 20× faster.
func BenchmarkLoad(b *testing.B) {
	names := []string{"America/New_York", "Europe/Berlin", "Asia/Shanghai", "Australia/Sydney"}
	for _, n := range names {
		if _, err := Load(n); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plumb", func(b *testing.B) {
		i := 0
		for b.Loop() {
			l, err := Load(names[i%len(names)])
			if err != nil {
				b.Fatal(err)
			}
			sinkLoc = l
			i++
		}
	})
	b.Run("time.LoadLocation", func(b *testing.B) {
		i := 0
		for b.Loop() {
			l, err := time.LoadLocation(names[i%len(names)])
			if err != nil {
				b.Fatal(err)
			}
			sinkLoc = l
			i++
		}
	})
}
