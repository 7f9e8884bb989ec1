//go:build go1.25

package stewai

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pollLoad starts n polls on p, each of which blocks until release is
// closed, and returns how many are running and how many have finished.
// synctest.Wait tells when every goroutine is blocked: the counts are
// exact, with no sleeping.
type pollLoad struct {
	running, finished atomic.Int32
	release           chan struct{}
	wg                sync.WaitGroup
}

func startPolls(p *pollers, n int) *pollLoad {
	l := &pollLoad{release: make(chan struct{})}
	for range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			done := make(chan struct{}, 1)
			p.run(context.Background(), func() {
				l.running.Add(1)
				<-l.release
				l.running.Add(-1)
				l.finished.Add(1)
			}, done)
		}()
	}
	return l
}

func TestPollersRunAsManyPollsAsConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPollers(2)
		load := startPolls(p, 7)
		synctest.Wait()
		assert.EqualValues(t, 2, load.running.Load(), "polls running at once over HTTP/1.1")
		close(load.release)
		load.wg.Wait()
		assert.EqualValues(t, 7, load.finished.Load())
		synctest.Wait() // the pollers end with the polls (synctest.Test fails on any left blocked)
		assert.Equal(t, 0, len(p.slots)-p.reserve, "pollers still counted as running")
	})
}

func TestPollersAllowMoreOverHTTP2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPollers(2)
		load := startPolls(p, 40)
		synctest.Wait()
		require.EqualValues(t, 2, load.running.Load())
		p.multiplexed()
		p.multiplexed() // once is enough; again changes nothing
		synctest.Wait()
		assert.EqualValues(t, 2*pollersPerConn, load.running.Load(), "polls running at once over HTTP/2")
		close(load.release)
		load.wg.Wait()
		assert.EqualValues(t, 40, load.finished.Load())
	})
}

func TestPollersQueuedPollEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPollers(1)
		load := startPolls(p, 1)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Bool
		result := make(chan bool)
		go func() { result <- p.run(ctx, func() { ran.Store(true) }, make(chan struct{}, 1)) }()
		synctest.Wait() // queued behind the running poll
		cancel()
		assert.False(t, <-result, "run reports a poll that never ran")
		assert.False(t, ran.Load())
		close(load.release)
		load.wg.Wait()
	})
}

// A wait whose polls cannot get a poller (the one connection allowed is
// taken) still ends at its own deadline, having sent nothing.
func TestWaitQueuedForAPollerEndsAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Nothing listens there: no poll may be sent.
		client, err := NewClient(WithAPIKey(testKey), WithBaseURL("http://127.0.0.1:9/v1"), WithMaxConnsPerHost(1))
		require.NoError(t, err)
		load := startPolls(client.core.pollers, 1) // the one poller, busy
		synctest.Wait()

		start := time.Now() // the bubble's clock, which moves only when all are blocked
		queued := make(chan error, 1)
		go func() {
			_, err := client.Runs.Wait(context.Background(), "r2", WithTimeout(5*time.Second))
			queued <- err
		}()
		synctest.Wait() // r2's first poll waits for a poller
		err = <-queued
		require.ErrorIs(t, err, ErrWaitTimeout)
		assert.ErrorIs(t, err, ErrRequestTimeout, "the poll that found no time left is the last error")
		assert.Equal(t, 5*time.Second, time.Since(start))
		close(load.release)
		load.wg.Wait()
	})
}
