package tzutil

import (
	"testing"
	"time"
)

// benchInstants are instants across a year in zones with and without DST,
// including :30 and :45 offsets.
func benchInstants(tb testing.TB) []time.Time {
	var ts []time.Time
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Asia/Shanghai", "Asia/Kathmandu", "Australia/Adelaide"} {
		loc := MustLoad(z)
		for d := 0; d < 365; d += 5 {
			ts = append(ts, time.Date(2024, 1, 1, 9, 17, 23, 5, loc).AddDate(0, 0, d))
		}
	}
	return ts
}

// interleaved times batches of plumb and anchor alternately inside one
// b.Loop, so both see the same machine state, and reports each one's
// ns/op and their ratio ("x-anchor"; goal ≤ 3).
func interleaved(b *testing.B, plumb, anchor func(i int)) {
	const batch = 512
	var p, a time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		for j := range batch {
			plumb(n + j)
		}
		t1 := time.Now()
		for j := range batch {
			anchor(n + j)
		}
		p += t1.Sub(t0)
		a += time.Since(t1)
		n += batch
	}
	b.ReportMetric(float64(p.Nanoseconds())/float64(n), "plumb-ns/op")
	b.ReportMetric(float64(a.Nanoseconds())/float64(n), "anchor-ns/op")
	b.ReportMetric(float64(p)/float64(a), "x-anchor")
}

// BenchmarkAddPeriod: AddPeriod of P1D and P1M (wall calendar, gap/fold
// policy) against the anchor time.AddDate(0, 0, 1) and AddDate(0, 1, 0),
// which pick gap/fold answers by the sign of the offset. Goal: ≤ 3×.
func BenchmarkAddPeriod(b *testing.B) {
	ts := benchInstants(b)
	ps := []Period{{Days: 1}, {Months: 1}}
	interleaved(b, func(i int) {
		t, err := AddPeriod(ts[i%len(ts)], ps[i&1], Clamp, Compatible)
		if err != nil {
			b.Fatal(err)
		}
		sinkTime = t
	}, func(i int) {
		sinkTime = ts[i%len(ts)].AddDate(0, i&1, 1-i&1)
	})
}

// BenchmarkRoundHour: Truncate to the local hour (right in :30/:45 zones
// and across folds) against the anchor time.Time.Truncate(time.Hour),
// which truncates on UTC. Goal: ≤ 3×.
func BenchmarkRoundHour(b *testing.B) {
	ts := benchInstants(b)
	interleaved(b, func(i int) {
		t, err := Truncate(ts[i%len(ts)], Hour)
		if err != nil {
			b.Fatal(err)
		}
		sinkTime = t
	}, func(i int) {
		sinkTime = ts[i%len(ts)].Truncate(time.Hour)
	})
}
