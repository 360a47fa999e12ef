package directory

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkClaims measures ClaimObject throughput with 64 concurrent
// claimers on a three-voter cluster (Fast timings, TCP on loopback,
// raft-boltdb files with fsync): on the leader only or spread over the three
// nodes (two thirds forwarded), with the batcher coalescing calls (one
// command in flight per node) or sending each alone, 64 in flight (raft
// pipelines those, and groups them in its own disk writes).
func BenchmarkClaims(b *testing.B) {
	const claimers = 64
	for _, m := range []struct {
		name     string
		spread   bool
		batchOps int
		inflight int
	}{
		{"leader/batched", false, 0, 0},
		{"leader/unbatched", false, 1, claimers},
		{"spread/batched", true, 0, 0},
		{"spread/unbatched", true, 1, claimers},
	} {
		b.Run(m.name, func(b *testing.B) {
			c := newTestCluster(b, 3, func(cfg *Config) { cfg.batchOps, cfg.inflight = m.batchOps, m.inflight })
			ctx := ctxFor(b)
			nodes := []*Directory{c.leader()}
			if m.spread {
				nodes = c.live()
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := range claimers {
				d := nodes[g%len(nodes)]
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, _, err := d.ClaimObject(ctx, ref(fmt.Sprint("b", i)), d.cfg.Name); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
			var cmds, ops int64
			for _, d := range c.live() {
				if d.IsLeader() {
					cmds, ops = d.commands.Load(), d.ops.Load()
				}
			}
			b.ReportMetric(float64(ops)/float64(max(cmds, 1)), "ops/entry")
		})
	}
}
