// Package mirrorexpvar publishes a mirror.Mirror's Stats through the
// standard library's expvar package.
//
// Importing this package imports expvar, and expvar's own init registers
// the handler for /debug/vars on http.DefaultServeMux. That page then serves,
// to anyone who can reach DefaultServeMux, every published variable: the
// process's full command line ("cmdline", flags and any secret passed on
// it included), runtime.MemStats ("memstats"), and whatever else the
// program publishes. This is why the mirror package itself does not import
// expvar: serve DefaultServeMux only on an internal address, or serve
// expvar.Handler() from a mux of your own behind authentication.
//
// Publish adds one variable, name, whose value is m.Stats() as JSON: the
// counters Seen, Sent, Queued, InFlight, Dropped (by reason), Errors,
// Timeouts, Pending, and per target the same counters, the shadow status
// histogram, latency percentiles (nanoseconds) and whether the breaker is
// open. It contains no request data: no URL, header or body.
package mirrorexpvar

import (
	"expvar"
	"fmt"

	"github.com/goplumb/plumb/mirror"
)

// Publish exposes m.Stats() as the expvar variable name (served at
// /debug/vars wherever expvar's handler is mounted). It fails, wrapping
// mirror.ErrInvalid, for a nil m, an empty name or a name already taken;
// expvar has no unpublish, so publish a long-lived Mirror once.
func Publish(name string, m *mirror.Mirror) error {
	if m == nil {
		return fmt.Errorf("%w: mirrorexpvar.Publish: nil *mirror.Mirror", mirror.ErrInvalid)
	}
	if name == "" {
		return fmt.Errorf("%w: mirrorexpvar.Publish: empty expvar name (use e.g. \"mirror\")", mirror.ErrInvalid)
	}
	if expvar.Get(name) != nil {
		return fmt.Errorf("%w: mirrorexpvar.Publish: expvar %q already exists (pick another name)", mirror.ErrInvalid, name)
	}
	expvar.Publish(name, expvar.Func(func() any { return m.Stats() }))
	return nil
}
