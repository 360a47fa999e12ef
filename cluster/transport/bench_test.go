package transport

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEcho: 64 concurrent callers, each waiting for its answer, over
// one loopback connection.
func BenchmarkEcho(b *testing.B) {
	srv := newTestTransport(b, "srv", echo)
	cli := newTestTransport(b, "cli", Handler{}, client)
	ctx := context.Background()
	if _, err := cli.Request(ctx, srv.Addr(), 1, nil); err != nil {
		b.Fatal(err)
	}
	body := []byte("a small payload.")
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((64 + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cli.Request(ctx, srv.Addr(), 1, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkEchoOneCaller: the round trip of a lone caller.
func BenchmarkEchoOneCaller(b *testing.B) {
	srv := newTestTransport(b, "srv", echo)
	cli := newTestTransport(b, "cli", Handler{}, client)
	ctx := context.Background()
	body := []byte("a small payload.")
	for b.Loop() {
		if _, err := cli.Request(ctx, srv.Addr(), 1, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkSend: one-way messages of 64 bytes from one sender, until the
// receiver has them all.
func BenchmarkSend(b *testing.B) {
	var got atomic.Int64
	srv := newTestTransport(b, "srv", Handler{Message: func(Peer, uint8, []byte) { got.Add(1) }})
	cli := newTestTransport(b, "cli", Handler{}, client)
	body := make([]byte, 64)
	if err := cli.Send(srv.Addr(), 1, body); err != nil {
		b.Fatal(err)
	}
	for got.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	got.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for {
			err := cli.Send(srv.Addr(), 1, body)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrOverloaded) {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	for got.Load() != int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
