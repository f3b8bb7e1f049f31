package redislock

import (
	"testing"
	"time"
)

// A failed renewal stops the run when the lease could expire before the
// next attempt, counted from when the last good renewal was sent: never
// after the lease expired (it used to wait until a full LeaseTTL had passed
// since a renewal's reply, when another replica may already hold it).
func TestMayExpireBeforeNextRenewal(t *testing.T) {
	const ttl, every = 30 * time.Second, 10 * time.Second
	for _, c := range []struct {
		since time.Duration
		want  bool
	}{
		{0, false},
		{every, false}, // one failed attempt: two more fit before expiry
		{2*every - time.Millisecond, false},
		{2 * every, true},              // the next attempt would come at expiry
		{ttl - time.Millisecond, true}, // the old rule waited until here
		{ttl, true},
	} {
		if got := mayExpireBeforeNextRenewal(c.since, every, ttl); got != c.want {
			t.Errorf("since last renewal %v: %v, want %v", c.since, got, c.want)
		}
	}
}
