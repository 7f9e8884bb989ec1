package stewaitest_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitConcurrently creates n runs at once through one client on the
// server's virtual clock, each waited with a one-minute timeout, and
// returns each run and error by index.
func waitConcurrently(ctx context.Context, c *stewai.Client, n int, recipe func(i int) string) ([]*stewai.Run, []error) {
	runs, errs := make([]*stewai.Run, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: recipe(i)}, stewai.WithTimeout(time.Minute))
		}()
	}
	wg.Wait()
	return runs, errs
}

// A thousand goroutines wait at once on the default (virtual) clock. Each
// sees what it would in real time: its run takes 10 s, its wait has a
// minute, and nobody's deadline runs out on time another goroutine slept.
func TestThousandConcurrentWaits(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("ten-seconds", stewaitest.Recipe{Duration: 10 * time.Second}),
		stewaitest.WithRecipe("fails", stewaitest.Recipe{Duration: 10 * time.Second, Final: stewai.StatusFailed}),
	)
	defer srv.Close()
	const n = 1000
	recipe := func(i int) string {
		if i%4 == 0 {
			return "fails"
		}
		return "ten-seconds"
	}
	runs, errs := waitConcurrently(testContext(t), srv.Client(), n, recipe)
	for i := range n {
		require.NotNil(t, runs[i], "run %d: %v", i, errs[i])
		if recipe(i) == "fails" {
			require.ErrorIs(t, errs[i], stewai.ErrRunFailed, "run %d", i)
		} else {
			require.NoError(t, errs[i], "run %d", i)
		}
		assert.Equal(t, int64(10_000), runs[i].DurationMS, "run %d took exactly its scripted 10 s", i)
	}
	posts := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" {
			posts++
		}
	}
	assert.Equal(t, n, posts, "exactly one POST per run")
	assert.Len(t, srv.Runs(), n)
}

// The same waits, each with a latency fault on its first poll that is
// shorter than the request timeout: the server holds the request on the
// clock and the client goes on once it answers.
func TestConcurrentWaitsThroughServerLatency(t *testing.T) {
	srv := stewaitest.NewServer(
		stewaitest.WithRecipe("r", stewaitest.Recipe{Duration: 3 * time.Second}),
		stewaitest.WithFault(stewaitest.Fault{Method: "GET", Path: "runs/", Times: 100, Latency: 20 * time.Second}),
	)
	defer srv.Close()
	c := srv.Client(stewai.WithRequestTimeout(30 * time.Second))
	runs, errs := waitConcurrently(testContext(t), c, 100, func(int) string { return "r" })
	for i := range runs {
		require.NoError(t, errs[i], "run %d", i)
		assert.Equal(t, int64(3000), runs[i].DurationMS)
	}
}

// BenchmarkConcurrentWaits reports how long 10,000 concurrent waits on one
// client of a fake server take in wall time; each run takes 10 s of
// virtual time.
func BenchmarkConcurrentWaits(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Duration: 10 * time.Second}))
				start := time.Now()
				_, errs := waitConcurrently(context.Background(), srv.Client(), n, func(int) string { return "r" })
				elapsed := time.Since(start)
				srv.Close()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(elapsed.Seconds(), "wall-s/batch")
			}
		})
	}
}

// countingListener counts the connections a server accepts, and the most
// open at once.
type countingListener struct {
	net.Listener
	conns, open, maxOpen atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	l.conns.Add(1)
	n := l.open.Add(1)
	for m := l.maxOpen.Load(); n > m && !l.maxOpen.CompareAndSwap(m, n); m = l.maxOpen.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

// countedConn tells its listener when it closes.
type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

func countingServer(t *testing.T, opts ...stewaitest.Option) (*stewaitest.Server, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := &countingListener{Listener: ln}
	srv := stewaitest.NewServer(append(opts, stewaitest.WithListener(cl))...)
	t.Cleanup(srv.Close)
	return srv, cl
}

// A client from Server.Client is the SDK's as in production: its own
// transport, capped, and its pollers, on the server's virtual clock. Fifty
// waits share the two connections it allows.
func TestServerClientCapsConnections(t *testing.T) {
	srv, ln := countingServer(t)
	c := srv.Client(stewai.WithMaxConnsPerHost(2))
	defer c.CloseIdleConnections()
	runs, errs := waitConcurrently(testContext(t), c, 50, func(int) string { return "default" })
	for i := range runs {
		require.NoError(t, errs[i], "run %d", i)
		assert.Equal(t, stewai.StatusDone, runs[i].Status)
	}
	assert.LessOrEqual(t, ln.maxOpen.Load(), int64(2), "50 waits over at most 2 connections at once")
	assert.LessOrEqual(t, ln.conns.Load(), int64(4), "and those reused, not dialled anew")
}

// Two hundred waits with ten-minute timeouts over four connections, of
// runs that take two minutes: on the virtual clock they end in moments of
// real time, each after its own two minutes of virtual time.
func TestServerClientManyLongWaits(t *testing.T) {
	srv, ln := countingServer(t, stewaitest.WithRecipe("slow", stewaitest.Recipe{Duration: 2 * time.Minute}))
	c := srv.Client(stewai.WithMaxConnsPerHost(4))
	defer c.CloseIdleConnections()
	ctx := testContext(t)
	runs, errs := make([]*stewai.Run, 200), make([]error, 200)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"}, stewai.WithTimeout(10*time.Minute))
		}()
	}
	wg.Wait()
	for i := range runs {
		require.NoError(t, errs[i], "run %d", i)
		assert.Equal(t, int64(120_000), runs[i].DurationMS, "run %d took its scripted two minutes", i)
	}
	assert.LessOrEqual(t, ln.maxOpen.Load(), int64(4), "at most 4 connections at once")
	assert.LessOrEqual(t, ln.conns.Load(), int64(8), "and those reused, not dialled anew")
}

// A client made by hand, not by Server.Client, is not on the server's
// virtual clock: a run that only time moves would never move for it. Its
// first poll fails at once with an error that says what to do, instead of
// a wait that sits out its whole timeout.
func TestClientOffTheVirtualClockFailsAtOnce(t *testing.T) {
	srv := stewaitest.NewServer(stewaitest.WithRecipe("slow", stewaitest.Recipe{Duration: time.Minute}))
	defer srv.Close()
	c, err := stewai.NewClient(stewai.WithBaseURL(srv.URL), stewai.WithAPIKey(srv.APIKey))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	ctx := testContext(t)
	created, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"}, stewai.NoWait())
	require.NoError(t, err)
	run, err := c.Runs.Wait(ctx, created.ID, stewai.WithTimeout(time.Hour))
	require.Error(t, err)
	require.NotNil(t, run, "the run's id is not lost")
	assert.Equal(t, created.ID, run.ID)
	assert.NotErrorIs(t, err, stewai.ErrWaitTimeout)
	assert.Contains(t, err.Error(), "srv.Client(")
	assert.Contains(t, err.Error(), "stewaitest.WithRealTime()")

}
