// Package link lets txiso/pgxtx use txiso's options and retry loop without
// making them part of txiso's public API. Package txiso sets Prepare in its
// init, which runs before any importer of txiso (such as pgxtx) runs.
package link

import "context"

// Settings are the transaction settings of resolved txiso options.
type Settings struct {
	Level      int // a txiso.Level (0: the server's default)
	ReadOnly   bool
	Deferrable bool
	Verify     bool
}

// Loop runs attempt (n is 1-based) until it succeeds or txiso's retry
// policy (classifier, MaxAttempts, backoff, OnRetry, ctx) stops it, and
// returns what txiso.Run would: nil, the first attempt's error, or a
// *txiso.RetryError.
type Loop func(ctx context.Context, attempt func(ctx context.Context, n int) error) error

// Prepare validates opts (a []txiso.Option) as txiso.Run does and returns
// the settings and the retry loop. Its errors match txiso.ErrInvalid.
var Prepare func(opts any) (Settings, Loop, error)
