package mirror

import (
	"math"
	"sync/atomic"
	"time"
)

// Stats is a consistent snapshot of the counters, summed over targets, with
// per-target detail. Seen = Sent + Queued + InFlight + Σ Dropped always
// holds (see Balanced); Seen counts copies (requests × targets) whose fate
// is decided. Pending counts requests whose body the primary is still
// reading (not yet decided).
type Stats struct {
	Seen     uint64
	Sent     uint64 // finished sends, whatever the outcome
	Queued   int64
	InFlight int64
	Dropped  map[DropReason]uint64
	Errors   uint64 // sends that failed (⊆ Sent), timeouts included
	Timeouts uint64 // sends that hit Target.Timeout (⊆ Errors)
	Pending  int64
	Targets  map[string]TargetStats
}

// TargetStats is one target's part of Stats.
type TargetStats struct {
	Seen, Sent       uint64
	Queued, InFlight int64
	Dropped          map[DropReason]uint64
	Errors, Timeouts uint64
	Status           map[int]uint64 // shadow response status counts
	Latency          Percentiles    // of successful sends, from a log histogram (≈6% resolution)
	BreakerOpen      bool
}

// DroppedTotal returns Σ Dropped.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Balanced reports whether Seen = Sent + Queued + InFlight + Σ Dropped.
func (s Stats) Balanced() bool {
	return int64(s.Seen) == int64(s.Sent)+s.Queued+s.InFlight+int64(s.DroppedTotal())
}

// Stats returns a snapshot. It briefly excludes the counting sections of
// the offer and send paths (a few microseconds; request-level drops such
// as not sampled are never excluded) so that the identity holds exactly.
func (m *Mirror) Stats() Stats {
	s := Stats{Dropped: map[DropReason]uint64{}, Targets: map[string]TargetStats{}, Pending: m.pending.Load()}
	now := m.now().UnixNano()
	var shared [numDropReasons]uint64 // request-level drops of every target, read once
	for i := range m.reqDrop {
		shared[i] = m.reqDrop[i].Load()
	}
	for _, t := range m.targets {
		ts := TargetStats{Dropped: map[DropReason]uint64{}, Status: map[int]uint64{}}
		t.acct.Lock()
		ts.Seen, ts.Sent = t.seen.Load(), t.sent.Load()
		ts.Queued, ts.InFlight = t.queued.Load(), t.inflight.Load()
		for i := range t.dropped {
			rd := shared[i] + t.reqDrop[i].Load()
			ts.Seen += rd
			ts.Dropped[DropReason(i)] = t.dropped[i].Load() + rd
		}
		ts.Errors, ts.Timeouts = t.errors.Load(), t.timeouts.Load()
		t.acct.Unlock()
		t.statusMu.Lock()
		for k, v := range t.status {
			ts.Status[k] = v
		}
		t.statusMu.Unlock()
		ts.Latency = t.lat.percentiles()
		u := t.openUntil.Load()
		ts.BreakerOpen = u != 0 && now < u
		s.Targets[t.name] = ts
		s.Seen += ts.Seen
		s.Sent += ts.Sent
		s.Queued += ts.Queued
		s.InFlight += ts.InFlight
		s.Errors += ts.Errors
		s.Timeouts += ts.Timeouts
		for k, v := range ts.Dropped {
			s.Dropped[k] += v
		}
	}
	return s
}

// DiffSummary returns the live diff summary (zero without Config.Compare).
func (m *Mirror) DiffSummary() DiffSummary {
	if m.differ == nil {
		return DiffSummary{}
	}
	return m.differ.Summary()
}

// latencyHist is a lock-free log-scale histogram (8 buckets per doubling,
// from 1µs to ~70 min).
type latencyHist struct {
	b [256]atomic.Uint64
}

func latBucket(d time.Duration) int {
	us := float64(d) / 1e3
	if us < 1 {
		return 0
	}
	i := int(math.Log2(us)*8) + 1
	return min(i, 255)
}

func bucketUpper(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	return time.Duration(math.Exp2(float64(i)/8) * 1e3)
}

func (h *latencyHist) observe(d time.Duration) { h.b[latBucket(d)].Add(1) }

func (h *latencyHist) percentiles() Percentiles {
	var counts [256]uint64
	var total uint64
	for i := range h.b {
		counts[i] = h.b[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return Percentiles{}
	}
	at := func(q float64) time.Duration {
		rank := uint64(math.Ceil(q * float64(total)))
		var c uint64
		for i, n := range counts {
			c += n
			if c >= rank && n > 0 {
				return bucketUpper(i)
			}
		}
		return bucketUpper(255)
	}
	p := Percentiles{Count: int(total), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999)}
	for i := 255; i >= 0; i-- {
		if counts[i] > 0 {
			p.Max = bucketUpper(i)
			break
		}
	}
	return p
}
