package apisixclient_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goplumb/plumb/apisixclient"
)

func TestSchemaEndpoints(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)

	raw, err := c.Schemas.Get(ctx, "route")
	require.NoError(t, err)
	var s struct {
		Properties map[string]any `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	assert.Contains(t, s.Properties, "uri")
	_, err = c.Schemas.Get(ctx, "nope")
	assert.True(t, apisixclient.IsNotFound(err) || err != nil, "unknown schema: %v", err)
	var ae *apisixclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "not found schema: nope", ae.Message)

	raw, err = c.Schemas.Plugin(ctx, "proxy-mirror")
	require.NoError(t, err)
	assert.Contains(t, string(raw), "sample_ratio")
	_, err = c.Schemas.Plugin(ctx, "no-such-plugin")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 404, ae.StatusCode)

	// schema_type=consumer: key-auth keeps "key" on consumers.
	raw, err = c.Plugins.ConsumerSchema(ctx, "key-auth")
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"required":["key"]`)
	_, err = c.Plugins.ConsumerSchema(ctx, "proxy-mirror")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "not found schema", ae.Message)

	require.NoError(t, c.Schemas.Validate(ctx, "routes", map[string]any{"uri": "/a", "upstream_id": "nope"}),
		"schema only: references are not checked")
	err = c.Schemas.Validate(ctx, "routes", map[string]any{"upstream_id": "1"})
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.Message, "allOf 1 failed")
	err = c.Schemas.Validate(ctx, "nope", map[string]any{})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Unsupported resource type: nope", ae.Message)

	require.NoError(t, c.Plugins.Reload(ctx))
}

func TestValidateConfig(t *testing.T) {
	ctx := context.Background()
	c, srv := newClient(t)
	good := &apisixclient.State{
		Upstreams: []apisixclient.Upstream{{ID: "u1", Nodes: apisixclient.NodeMap(map[string]int{"10.0.0.1:80": 1})}},
		Routes:    []apisixclient.Route{{ID: "r1", URI: "/a", UpstreamID: "u-not-yet-there"}},
	}
	probs, err := c.ValidateConfig(ctx, good)
	require.NoError(t, err)
	assert.Empty(t, probs, "references are not checked")
	assert.Zero(t, srv.Len("routes"), "nothing is stored")

	bad := &apisixclient.State{Routes: []apisixclient.Route{
		{ID: "r1", URI: "/a", UpstreamID: "u1", Plugins: apisixclient.Plugins{"limit-count": map[string]any{"count": 1}}},
		{ID: "r1", URI: "/b", UpstreamID: "u1"},
	}}
	probs, err = c.ValidateConfig(ctx, bad)
	require.NoError(t, err)
	require.Len(t, probs, 2, "%v", probs)
	assert.Equal(t, "routes", probs[0].ResourceType)
	assert.Equal(t, 0, probs[0].Index)
	assert.Contains(t, probs[0].Error, "limit-count")
	assert.Equal(t, "found duplicate id r1 in routes", probs[1].Error)
	assert.Equal(t, "routes[1] (id r1): found duplicate id r1 in routes", probs[1].String())
}
