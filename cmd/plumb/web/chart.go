package web

import (
	"fmt"

	"github.com/goplumb/plumb/streamq"
)

// chart is a server-rendered SVG bar chart of delivered messages per second
// between consecutive samples.
type chart struct {
	Width, Height int
	Bars          []bar
	Caption       string
	CaptionY      int
}

type bar struct {
	X, Y, W, H int
	Label      string
}

// observe records a sample of the queue's groups and returns the chart of
// the samples so far.
func (h *Handler) observe(queue string, groups []streamq.GroupStats) chart {
	var delivered int64
	for _, g := range groups {
		delivered += g.EntriesRead
	}
	now := h.cfg.Now()
	h.mu.Lock()
	s := append(h.samples[queue], sample{at: now, delivered: delivered})
	if len(s) > maxSamples {
		s = s[len(s)-maxSamples:]
	}
	h.samples[queue] = s
	s = append([]sample(nil), s...)
	h.mu.Unlock()

	c := chart{Width: 600, Height: 120, CaptionY: 116}
	if len(s) < 2 {
		return c
	}
	rates := make([]float64, 0, len(s)-1)
	peak := 0.0
	for i := 1; i < len(s); i++ {
		dt := s[i].at.Sub(s[i-1].at).Seconds()
		d := s[i].delivered - s[i-1].delivered
		r := 0.0
		if dt > 0 && d > 0 {
			r = float64(d) / dt
		}
		rates = append(rates, r)
		peak = max(peak, r)
	}
	if peak == 0 {
		c.Caption = fmt.Sprintf("no message delivered since %s (%d samples, one per page view)", s[0].at.Format("15:04:05"), len(s))
		return c
	}
	plot := c.Height - 16
	w := max(c.Width/maxSamples, 2)
	for i, r := range rates {
		hgt := 0
		if r > 0 { // a non-zero rate is never invisible
			hgt = max(int(r/peak*float64(plot)), 1)
		}
		c.Bars = append(c.Bars, bar{X: i * w, Y: plot - hgt, W: w - 1, H: hgt,
			Label: fmt.Sprintf("%.1f/s until %s", r, s[i+1].at.Format("15:04:05"))})
	}
	c.Caption = fmt.Sprintf("delivered per second, %d samples since %s; peak %.1f/s", len(s), s[0].at.Format("15:04:05"), peak)
	return c
}
