// Package tzdata embeds Go's copy of the IANA time zone database (by
// importing time/tzdata, about 450 KB) and tells tzutil that it is there,
// so that tzutil.Load reports SourceEmbedded and tzutil.Doctor reports
// "embedded tzdata: yes".
//
// Import it for its side effect in the main package of programs that run
// in images without /usr/share/zoneinfo (scratch, distroless, some Alpine
// builds), as time/tzdata's own documentation advises for main packages:
//
//	import _ "github.com/goplumb/plumb/tzutil/tzdata"
//
// The system's zoneinfo, when present, still wins: Go's loader consults
// ZONEINFO and the system directories before the embedded copy. The
// embedded copy is the one bundled with the Go toolchain that built the
// binary and has no version marker; Doctor reports it as such.
package tzdata

import (
	_ "time/tzdata" // the point of this package

	"github.com/goplumb/plumb/tzutil/internal/embedflag"
)

func init() { embedflag.Set() }

// Linked reports whether the embedded tzdata is linked into the program; it
// is always true once this package is imported. It exists so that a program
// can assert the import in a test (a refactor that drops the blank import
// would otherwise go unnoticed until a container starts in UTC).
func Linked() bool { return embedflag.Linked() }
