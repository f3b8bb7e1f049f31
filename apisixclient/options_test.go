package apisixclient_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

type countingTransport struct{ n atomic.Int64 }

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	srv := apisixtest.NewServer(t, apisixtest.Config{})
	tr := &countingTransport{}
	var logs bytes.Buffer
	c, err := apisixclient.New(srv.URL, apisixclient.Config{APIKey: srv.Key,
		HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		Retries:    1, Backoff: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)

	v, err := c.Ping(ctx)
	require.NoError(t, err)
	assert.Equal(t, apisixtest.DefaultVersion, v)
	assert.Equal(t, int64(1), tr.n.Load(), "requests go through the caller's client")

	srv.FailNext(5, 503, "etcd down")
	_, err = c.Routes.List(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, int64(3), tr.n.Load(), "one retry with Retries: 1")
	assert.Contains(t, logs.String(), "retrying")
	srv.FailNext(0, 0, "")

	hidden := apisixtest.NewServer(t, apisixtest.Config{HideVersion: true, NoAuth: true})
	c2, err := apisixclient.New(hidden.URL, apisixclient.Config{})
	require.NoError(t, err)
	v, err = c2.Ping(ctx)
	require.NoError(t, err)
	assert.Empty(t, v, "enable_server_tokens: false hides the version")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c2.Routes.Get(cancelled, "1")
	assert.ErrorIs(t, err, context.Canceled)
}
