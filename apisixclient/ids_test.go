package apisixclient_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

// TestDotIDsRefused: "." and ".." pass APISIX's id pattern but nginx
// resolves them in the path, so Credentials.Delete("jack", "..") would
// address the consumer jack itself. Nothing may be sent.
func TestDotIDsRefused(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	_, err := c.Consumers.Put(ctx, "jack", &apisixclient.Consumer{Username: "jack"})
	require.NoError(t, err)
	srv.ResetRequests()
	calls := map[string]func() error{
		"credential delete ..": func() error { return c.Credentials.Delete(ctx, "jack", "..") },
		"credential put .": func() error {
			_, err := c.Credentials.Put(ctx, "jack", ".", &apisixclient.Credential{Plugins: apisixclient.Plugins{"key-auth": map[string]any{"key": "k"}}})
			return err
		},
		"route get ..":     func() error { _, err := c.Routes.Get(ctx, ".."); return err },
		"route delete .":   func() error { return c.Routes.Delete(ctx, ".") },
		"secret vault/..":  func() error { _, err := c.Secrets.Get(ctx, "vault/.."); return err },
		"upstream put ..":  func() error { _, err := c.Upstreams.Put(ctx, "..", upstream("10.0.0.1:80")); return err },
		"patch path ..":    func() error { _, err := c.Routes.PatchPath(ctx, "r1", "plugins/../uri", "/x"); return err },
		"patch path %2e":   func() error { _, err := c.Routes.PatchPath(ctx, "r1", "plugins/%2e%2e/uri", "/x"); return err },
		"patch path %2F":   func() error { _, err := c.Routes.PatchPath(ctx, "r1", "upstream%2Fnodes", 1); return err },
		"plugin schema ..": func() error { _, err := c.Plugins.Schema(ctx, "..", ""); return err },
		"state id ..": func() error {
			_, err := c.Sync(ctx, &apisixclient.State{Upstreams: []apisixclient.Upstream{{ID: "..", Nodes: apisixclient.NodeMap(nil)}}}, apisixclient.SyncOptions{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, apisixclient.ErrInvalid)
			assert.NotContains(t, err.Error(), "fix: )")
		})
	}
	assert.Empty(t, srv.Requests(), "nothing may be sent for a dot id")
	it, err := c.Consumers.Get(ctx, "jack")
	require.NoError(t, err)
	assert.Equal(t, "jack", it.Value.Username)
}
