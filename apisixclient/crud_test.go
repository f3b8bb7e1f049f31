package apisixclient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

// crud runs every method of one resource service against apisixtest: Put
// (201 then 200), Get, List, All, Patch and PatchPath or ErrNotSupported,
// Create or ErrNotSupported, Delete and a 404 after it.
func crud[T any](t *testing.T, r *apisixclient.Resource[T], id apisixclient.ID, v func() *T, patch map[string]any, post, canPatch bool) {
	t.Helper()
	ctx := context.Background()
	it, err := r.Put(ctx, id, v())
	require.NoError(t, err)
	assert.True(t, it.Created)
	it, err = r.Put(ctx, id, v(), apisixclient.WithTTL(0))
	require.NoError(t, err)
	assert.False(t, it.Created)

	got, err := r.Get(ctx, id)
	require.NoError(t, err)
	assert.NotZero(t, got.ModifiedIndex)
	page, err := r.List(ctx, &apisixclient.ListOptions{Page: 1, PageSize: 10})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Total)
	n := 0
	for _, err := range r.All(ctx, nil) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 1, n)

	_, err = r.Patch(ctx, id, patch)
	if canPatch {
		require.NoError(t, err)
		_, err = r.PatchPath(ctx, id, "labels/patched", "yes")
		require.NoError(t, err)
	} else {
		assert.ErrorIs(t, err, apisixclient.ErrNotSupported)
	}

	created, err := r.Create(ctx, v())
	if post {
		// v() carries no id for POST-able kinds in these cases.
		require.NoError(t, err)
		assert.True(t, created.Created)
	} else {
		assert.True(t, errors.Is(err, apisixclient.ErrNotSupported) || errors.Is(err, apisixclient.ErrInvalid), "got %v", err)
	}
	require.NoError(t, r.Delete(ctx, id))
	_, err = r.Get(ctx, id)
	assert.True(t, apisixclient.IsNotFound(err), "got %v", err)
	err = r.Delete(ctx, id)
	assert.True(t, apisixclient.IsNotFound(err), "deleting twice: got %v", err)
}

func TestEveryResourceEveryMethod(t *testing.T) {
	c, _ := newClient(t)
	cert, key := selfSigned(t, "crud.example.com")
	labels := map[string]any{"labels": map[string]any{"x": "1"}}
	t.Run("routes", func(t *testing.T) {
		crud(t, c.Routes, "r", func() *apisixclient.Route {
			return &apisixclient.Route{URI: "/crud", Upstream: upstream("127.0.0.1:1"), Hosts: []string{"a.example.com", "*.b.example.com"},
				RemoteAddrs: []string{"10.0.0.0/8", "::1"}, Methods: []string{"GET", "PURGE"}}
		}, map[string]any{"uri": "/crud2"}, true, true)
	})
	t.Run("services", func(t *testing.T) {
		crud(t, c.Services, "s", func() *apisixclient.Service { return &apisixclient.Service{Upstream: upstream("127.0.0.1:1")} }, labels, true, true)
	})
	t.Run("upstreams", func(t *testing.T) {
		crud(t, c.Upstreams, "u", func() *apisixclient.Upstream { return upstream("127.0.0.1:1") }, labels, true, true)
	})
	t.Run("ssls", func(t *testing.T) {
		crud(t, c.SSLs, "c", func() *apisixclient.SSL { return &apisixclient.SSL{Cert: cert, Key: key, SNI: "crud.example.com"} }, labels, true, true)
	})
	t.Run("stream_routes", func(t *testing.T) {
		crud(t, c.StreamRoutes, "sr", func() *apisixclient.StreamRoute {
			return &apisixclient.StreamRoute{ServerPort: 9000, Upstream: upstream("127.0.0.1:1")}
		}, labels, true, false)
	})
	t.Run("consumers", func(t *testing.T) {
		crud(t, c.Consumers, "jack", func() *apisixclient.Consumer { return &apisixclient.Consumer{Username: "jack"} }, labels, false, false)
	})
	t.Run("consumer_groups", func(t *testing.T) {
		crud(t, c.ConsumerGroups, "g", func() *apisixclient.ConsumerGroup {
			return &apisixclient.ConsumerGroup{Plugins: apisixclient.Plugins{}}
		}, labels, false, true)
	})
	t.Run("plugin_configs", func(t *testing.T) {
		crud(t, c.PluginConfigs, "pc", func() *apisixclient.PluginConfig {
			return &apisixclient.PluginConfig{Plugins: apisixclient.Plugins{"echo": map[string]any{"body": "hi"}}}
		}, labels, false, true)
	})
	t.Run("global_rules", func(t *testing.T) {
		// Global rules have no labels: patch the plugins instead.
		ctx := context.Background()
		_, err := c.GlobalRules.Put(ctx, "gr", &apisixclient.GlobalRule{Plugins: apisixclient.Plugins{"echo": map[string]any{"body": "hi"}}})
		require.NoError(t, err)
		it, err := c.GlobalRules.PatchPath(ctx, "gr", "plugins/prometheus", map[string]any{})
		require.NoError(t, err)
		assert.Equal(t, []string{"echo", "prometheus"}, it.Value.Plugins.Names())
		_, err = c.GlobalRules.Create(ctx, &apisixclient.GlobalRule{Plugins: apisixclient.Plugins{}})
		assert.ErrorIs(t, err, apisixclient.ErrNotSupported)
		require.NoError(t, c.GlobalRules.Delete(ctx, "gr"))
	})
	t.Run("plugin_metadata", func(t *testing.T) {
		crud(t, c.PluginMetadata, "http-logger", func() *apisixclient.PluginMetadata {
			return &apisixclient.PluginMetadata{"log_format": map[string]any{"host": "$host"}}
		}, labels, false, false)
	})
	t.Run("protos", func(t *testing.T) {
		crud(t, c.Protos, "p", func() *apisixclient.Proto { return &apisixclient.Proto{Content: `syntax = "proto3";`} }, labels, true, false)
	})
	t.Run("secrets", func(t *testing.T) {
		ctx := context.Background()
		v := &apisixclient.Secret{URI: "http://127.0.0.1:8200", Prefix: "kv/apisix", Token: "t"}
		_, err := c.Secrets.Put(ctx, "vault/s", v)
		require.NoError(t, err)
		it, err := c.Secrets.PatchPath(ctx, "vault/s", "token", "t2")
		require.NoError(t, err)
		assert.Equal(t, "t2", it.Value.Token)
		g, err := c.Secrets.Get(ctx, "vault/s")
		require.NoError(t, err)
		assert.Equal(t, apisixclient.ID("vault/s"), g.Value.ID)
		_, err = c.Secrets.Put(ctx, "hashicorp/s", v)
		assert.ErrorIs(t, err, apisixclient.ErrInvalid)
		require.NoError(t, c.Secrets.Delete(ctx, "vault/s"))
	})
}
