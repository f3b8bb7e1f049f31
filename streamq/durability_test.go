package streamq

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goplumb/plumb/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A consumer says at start when its server has appendonly no (every
// acknowledged Add is lost on a restart), through the hook and the logger;
// with an AOF it says nothing.
func TestAppendOnlyNoReported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		report bool
	}{
		{"appendonly no", nil, true},
		{"appendonly yes", []string{"--appendonly", "yes"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testenv.NewRedisServer(t, tc.args...)
			client := srv.Client(t)
			ctx := ctxT(t)
			var logs syncBuffer
			q, err := New[job](client, "q", Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			d, err := q.CheckDurability(ctx)
			require.NoError(t, err)
			assert.Equal(t, !tc.report, d.AppendOnly)
			assert.NotEmpty(t, d.AppendFsync)
			var mu sync.Mutex
			var reported []error
			rec := newRecorder()
			c, err := q.NewConsumer("g", func(_ context.Context, m Msg[job]) error { rec.add(m); return nil }, fast(ConsumerConfig{
				Hooks: Hooks{OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }},
			}))
			require.NoError(t, err)
			start[job](t, c)
			_, err = q.Add(ctx, job{N: 1})
			require.NoError(t, err)
			eventually(t, 10*time.Second, "running", func() bool { return rec.total() == 1 })
			mu.Lock()
			defer mu.Unlock()
			found := false
			for _, err := range reported {
				found = found || (assert.ErrorIs(t, err, ErrNotDurable) && strings.Contains(err.Error(), "appendonly no"))
			}
			assert.Equal(t, tc.report, found, "reported: %v", reported)
			assert.Equal(t, tc.report, strings.Contains(logs.String(), "appendonly no"))
		})
	}
}

// WaitReplicas: without a replica Add returns the ID and ErrNotDurable
// after WaitTimeout; with one it succeeds. WaitAOF on a server without
// WAITAOF (Redis < 7.2) falls back to WAIT, with a warning.
func TestWaitReplicas(t *testing.T) {
	t.Parallel()
	master := testenv.NewRedisServer(t, "--appendonly", "yes")
	client := master.Client(t)
	ctx := ctxT(t)
	var logs syncBuffer
	q, err := New[job](client, "q", Config{WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	id, err := q.Add(ctx, job{N: 1})
	require.ErrorIs(t, err, ErrNotDurable)
	assert.Contains(t, err.Error(), "0 of 1 replicas")
	assert.NotEmpty(t, id, "stored on the master")
	ids, err := q.AddBatch(ctx, []job{{N: 2}, {N: 3}})
	require.ErrorIs(t, err, ErrNotDurable)
	assert.Len(t, ids, 2)
	assert.NotEmpty(t, ids[1])
	require.ErrorIs(t, q.ProcessIn(ctx, job{N: 4}, time.Hour), ErrNotDurable)
	_, added, err := q.AddUnique(ctx, "k", time.Minute, job{N: 5})
	require.ErrorIs(t, err, ErrNotDurable)
	assert.True(t, added)
	n, err := client.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "every message was stored")

	port := master.Addr()[strings.LastIndex(master.Addr(), ":")+1:]
	replica := testenv.NewRedisServer(t, "--replicaof", "127.0.0.1", port)
	rc := replica.Client(t)
	eventually(t, 30*time.Second, "replica in sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	q2, err := New[job](client, "q", Config{WaitReplicas: 1, WaitTimeout: 10 * time.Second, WaitAOF: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	d, err := q2.CheckDurability(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, d.Replicas)
	id, err = q2.Add(ctx, job{N: 6})
	require.NoError(t, err)
	got, err := rc.XRange(ctx, q.StreamKey(), id, id).Result()
	require.NoError(t, err)
	assert.Len(t, got, 1, "on the replica when Add returned")
	if !d.WaitAOF {
		assert.Contains(t, logs.String(), "no WAITAOF")
	}
	_, err = New[job](client, "q", Config{WaitReplicas: -1})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = New[job](client, "q", Config{WaitTimeout: -1})
	assert.ErrorIs(t, err, ErrInvalid)
}
