package apisixclient_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/goplumb/plumb/apisixclient"
	"github.com/goplumb/plumb/apisixclient/apisixtest"
)

// benchState is 200 upstreams and 1,000 routes, five routes per upstream.
func benchState() *apisixclient.State {
	st := &apisixclient.State{}
	for i := range 200 {
		st.Upstreams = append(st.Upstreams, apisixclient.Upstream{ID: apisixclient.ID(fmt.Sprintf("u%d", i)), Type: "roundrobin",
			Nodes: apisixclient.NodeMap(map[string]int{fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250+1): 1})})
	}
	for i := range 1000 {
		st.Routes = append(st.Routes, apisixclient.Route{ID: apisixclient.ID(fmt.Sprintf("r%d", i)), URI: fmt.Sprintf("/svc/%d/*", i),
			Methods: []string{"GET", "POST"}, UpstreamID: apisixclient.ID(fmt.Sprintf("u%d", i/5))})
	}
	return st
}

func benchClient(b *testing.B) (*apisixclient.Client, *apisixtest.Handler) {
	b.Helper()
	h, err := apisixtest.NewHandler(apisixtest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	c, err := apisixclient.New(srv.URL, apisixclient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return c, h
}

func total(m map[string]int) (all, writes int) {
	for k, v := range m {
		all += v
		if k != "GET" {
			writes += v
		}
	}
	return all, writes
}

// BenchmarkSyncFirstVsNaive runs, in each iteration, a first Sync and the
// naive put-all on two fresh, empty servers, and reports naive/plumb: a
// ratio of 1 means Sync's list, diff and ordering cost nothing.
func BenchmarkSyncFirstVsNaive(b *testing.B) {
	ctx := context.Background()
	var plumbT, naiveT time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		c1, _ := benchClient(b)
		c2, _ := benchClient(b)
		st := benchState()
		st2 := benchState()
		b.StartTimer()
		runPlumb := func() {
			t0 := time.Now()
			if p, err := c1.Sync(ctx, st, apisixclient.SyncOptions{}); err != nil || p.Applied != 1200 {
				b.Fatalf("sync: %v", err)
			}
			plumbT += time.Since(t0)
		}
		runNaive := func() {
			t0 := time.Now()
			for i := range st2.Upstreams {
				if _, err := c2.Upstreams.Put(ctx, st2.Upstreams[i].ID, &st2.Upstreams[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range st2.Routes {
				if _, err := c2.Routes.Put(ctx, st2.Routes[i].ID, &st2.Routes[i]); err != nil {
					b.Fatal(err)
				}
			}
			naiveT += time.Since(t0)
		}
		// Alternate the order so neither pays the other's GC debt.
		if n%2 == 0 {
			runPlumb()
			runNaive()
		} else {
			runNaive()
			runPlumb()
		}
		n++
	}
	b.ReportMetric(float64(naiveT)/float64(plumbT), "naive/plumb")
}

// BenchmarkSync: syncing 1,000 routes and 200 upstreams against apisixtest.
// plumb-first creates everything on an empty server; plumb-rerun syncs the
// same state again (only list calls); naive-put-all PUTs every resource on
// each run, as a tool without a diff does.
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	b.Run("plumb-first", func(b *testing.B) {
		var reqs, writes int
		for b.Loop() {
			b.StopTimer()
			c, h := benchClient(b)
			st := benchState()
			b.StartTimer()
			p, err := c.Sync(ctx, st, apisixclient.SyncOptions{})
			if err != nil || p.Applied != 1200 {
				b.Fatalf("sync: %v (applied %d)", err, p.Applied)
			}
			reqs, writes = total(h.Requests())
		}
		b.ReportMetric(float64(reqs), "requests/op")
		b.ReportMetric(float64(writes), "writes/op")
	})
	b.Run("plumb-rerun", func(b *testing.B) {
		c, h := benchClient(b)
		st := benchState()
		if _, err := c.Sync(ctx, st, apisixclient.SyncOptions{}); err != nil {
			b.Fatal(err)
		}
		var reqs, writes int
		for b.Loop() {
			h.ResetRequests()
			p, err := c.Sync(ctx, st, apisixclient.SyncOptions{})
			if err != nil || len(p.Changes) != 0 {
				b.Fatalf("rerun: %v, %d changes", err, len(p.Changes))
			}
			reqs, writes = total(h.Requests())
		}
		if writes != 0 {
			b.Fatalf("a no-change rerun wrote %d times", writes)
		}
		b.ReportMetric(float64(reqs), "requests/op")
		b.ReportMetric(float64(writes), "writes/op")
	})
	b.Run("naive-put-all", func(b *testing.B) {
		c, h := benchClient(b)
		st := benchState()
		if _, err := c.Sync(ctx, st, apisixclient.SyncOptions{}); err != nil {
			b.Fatal(err)
		}
		var reqs, writes int
		for b.Loop() {
			h.ResetRequests()
			for i := range st.Upstreams {
				if _, err := c.Upstreams.Put(ctx, st.Upstreams[i].ID, &st.Upstreams[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range st.Routes {
				if _, err := c.Routes.Put(ctx, st.Routes[i].ID, &st.Routes[i]); err != nil {
					b.Fatal(err)
				}
			}
			reqs, writes = total(h.Requests())
		}
		b.ReportMetric(float64(reqs), "requests/op")
		b.ReportMetric(float64(writes), "writes/op")
	})
}
