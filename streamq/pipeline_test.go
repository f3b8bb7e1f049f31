package streamq

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pipeline that never reached Redis is an error, never a zero-value
// success. go-redis returns from Exec without touching the commands when it
// gets no connection (server down, context already done), so each command
// reads as "OK, empty": AddBatch used to return IDs "" and a nil error for
// messages that were never written, and Stats an empty queue.
func TestPipelineWithoutConnectionIsAnError(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	live := env.Client
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens there
	t.Cleanup(func() { dead.Close() })
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name   string
		client redis.UniversalClient
		ctx    context.Context
	}{
		{"server down", dead, context.Background()},
		{"context done", live, cancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cfg := range []Config{{}, {WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond}} {
				q := newQueue[job](t, target{client: c.client, prefix: env.Prefix}, cfg)
				ids, err := q.AddBatch(c.ctx, []job{{N: 1}, {N: 2}})
				require.Error(t, err, "AddBatch wrote nothing (WaitReplicas %d)", cfg.WaitReplicas)
				assert.NotErrorIs(t, err, ErrNotDurable, "nothing was written: not a durability shortfall")
				assert.Equal(t, []string{"", ""}, ids)
				for i := range 2 {
					assert.Contains(t, err.Error(), "batch item "+string(rune('0'+i)), "every item reported")
				}
				id, err := q.Add(c.ctx, job{N: 3})
				require.Error(t, err, "Add wrote nothing (WaitReplicas %d)", cfg.WaitReplicas)
				assert.NotErrorIs(t, err, ErrNotDurable, "nothing was written: not a durability shortfall")
				assert.Empty(t, id)
			}
			q := newQueue[job](t, target{client: c.client, prefix: env.Prefix}, Config{})
			_, err := q.Stats(c.ctx)
			assert.Error(t, err, "Stats")
			_, err = q.DeadLetters(c.ctx, "g", "", 10)
			assert.Error(t, err, "DeadLetters")
			assert.NotErrorIs(t, err, ErrNoGroup, "the group may well exist: Redis was never asked")
			_, err = q.CheckDurability(c.ctx)
			assert.Error(t, err, "CheckDurability")
		})
	}
	// The live server still has nothing: the errors were true.
	n, err := live.DBSize(context.Background()).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// refuseAcks is a go-redis hook that fails the first n pipelines carrying
// an XACK before they get a connection, as go-redis does when it cannot get
// one: the commands themselves are left untouched.
type refuseAcks struct{ left atomic.Int64 }

func (h *refuseAcks) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *refuseAcks) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *refuseAcks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if strings.EqualFold(c.Name(), "xack") && h.left.Add(-1) >= 0 {
				return errors.New("injected: no connection")
			}
		}
		return next(ctx, cmds)
	}
}

// An ack flush that never reached Redis is kept and sent again: the message
// is acknowledged once, handled once, and no duplicate is counted. (It used
// to be taken as sent: XACK's zero reply counted as a duplicate, and the
// message, still pending, ran again after the visibility timeout.)
func TestAckFlushWithoutConnectionIsRetried(t *testing.T) {
	t.Parallel()
	env := testenv.Redis(t)
	client := env.NewClient(t)
	hook := &refuseAcks{}
	hook.left.Store(3)
	client.AddHook(hook)
	ctx := ctxT(t)
	tg := target{client: client, prefix: env.Prefix}
	q := newQueue[job](t, tg, Config{})
	require.NoError(t, q.CreateGroup(ctx, "g", false))
	var dups, flushErrs atomic.Int64
	rec := newRecorder()
	c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil },
		fast(ConsumerConfig{Name: "a", VisibilityTimeout: time.Minute, Hooks: Hooks{
			OnDuplicate: func(n int) { dups.Add(int64(n)) },
			OnError: func(err error) {
				if strings.Contains(err.Error(), "injected") {
					flushErrs.Add(1)
				}
			},
		}}))
	require.NoError(t, err)
	_, err = q.AddBatch(ctx, []job{{N: 1}, {N: 2}, {N: 3}})
	require.NoError(t, err)
	stop := start[job](t, c)
	eventually(t, 30*time.Second, "every refused flush reported", func() bool { return hook.left.Load() < 0 && flushErrs.Load() >= 1 })
	eventually(t, 30*time.Second, "all three acknowledged", func() bool {
		p, err := env.Client.XPending(ctx, q.StreamKey(), "g").Result()
		return err == nil && p.Count == 0
	})
	stop()
	assert.Equal(t, 3, rec.total(), "each message handled once")
	assert.Zero(t, dups.Load(), "no duplicate counted")
	gs, err := q.GroupStats(ctx, "g")
	require.NoError(t, err)
	assert.Zero(t, gs.Duplicates)
}
