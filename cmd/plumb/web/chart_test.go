package web

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/goplumb/plumb/streamq"
	"github.com/redis/go-redis/v9"
)

func TestThroughputChart(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	h, err := New(rdb, Config{Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	groups := func(a, b int64) []streamq.GroupStats {
		return []streamq.GroupStats{{Name: "a", EntriesRead: a}, {Name: "b", EntriesRead: b}}
	}
	if c := h.observe("q", groups(0, 0)); len(c.Bars) != 0 || c.Caption != "" {
		t.Fatalf("one sample drew %+v", c)
	}
	now = now.Add(10 * time.Second)
	if c := h.observe("q", groups(0, 0)); len(c.Bars) != 0 || !strings.Contains(c.Caption, "no message delivered") {
		t.Fatalf("idle queue drew %+v", c)
	}
	now = now.Add(10 * time.Second)
	h.observe("q", groups(100, 100)) // 20/s
	now = now.Add(10 * time.Second)
	c := h.observe("q", groups(150, 150)) // 10/s
	if len(c.Bars) != 3 || c.Bars[0].H != 0 || c.Bars[2].H*2 != c.Bars[1].H || !strings.Contains(c.Caption, "peak 20.0/s") {
		t.Fatalf("chart %+v", c)
	}
	// Another queue has its own samples; the history is capped.
	if c := h.observe("other", groups(1, 1)); len(c.Bars) != 0 {
		t.Fatalf("other queue shares samples: %+v", c)
	}
	for i := range int64(2 * maxSamples) {
		now = now.Add(time.Second)
		c = h.observe("q", groups(150+i, 150))
	}
	if len(c.Bars) != maxSamples-1 {
		t.Fatalf("%d bars, want %d", len(c.Bars), maxSamples-1)
	}
}
