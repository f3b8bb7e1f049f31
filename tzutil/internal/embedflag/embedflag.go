// Package embedflag records whether tzutil/tzdata (and so time/tzdata) is
// linked into the program, for tzutil's loader and doctor. It holds one
// write-once fact set from an init function, not a setting.
package embedflag

import "sync/atomic"

var linked atomic.Bool

// Set records that time/tzdata is linked in.
func Set() { linked.Store(true) }

// Linked reports whether Set was called.
func Linked() bool { return linked.Load() }
