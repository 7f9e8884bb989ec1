package stewai

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 200 waits meet a window in which the server rate-limits every request:
// the first 429 pauses every wait's polls until its Retry-After, so the
// client collects about one 429 per connection, not one per wait.
func TestRateLimitPausesEveryWait(t *testing.T) {
	const conns = 8
	env := setup(t, WithMaxConnsPerHost(conns))
	windowStart, windowEnd := epoch.Add(2*time.Second), epoch.Add(12*time.Second)
	var limited atomic.Int64
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		now := env.clock.Now()
		if !now.Before(windowStart) && now.Before(windowEnd) {
			limited.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(windowEnd.Sub(now).Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "slow down"})
			return
		}
		status := StatusRunning
		if !now.Before(epoch.Add(20 * time.Second)) {
			status = StatusDone
		}
		writeJSON(w, http.StatusOK, runJSON(r.PathValue("id"), status))
	})
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	runs, err := env.client.Runs.WaitAll(testContext(t), ids)
	require.NoError(t, err)
	for _, run := range runs {
		assert.Equal(t, StatusDone, run.Status)
	}
	assert.Positive(t, limited.Load(), "the waits met the window")
	assert.LessOrEqual(t, limited.Load(), int64(conns), "at most one 429 per connection, not one per wait")
}

// A wait started during a pause sends its first poll when the pause ends;
// a wait's own deadline still ends it on time.
func TestRateLimitPauseStartsAndDeadlines(t *testing.T) {
	env := setup(t, WithMaxRetries(0))
	var limitedOnce atomic.Bool
	env.mux.HandleFunc("GET /runs/limited/", func(w http.ResponseWriter, r *http.Request) {
		if limitedOnce.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "slow down"})
			return
		}
		writeJSON(w, http.StatusOK, runJSON("limited", StatusDone))
	})
	var mu sync.Mutex
	var polledAt []time.Duration
	env.mux.HandleFunc("GET /runs/other/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		polledAt = append(polledAt, env.clock.Now().Sub(epoch))
		mu.Unlock()
		writeJSON(w, http.StatusOK, runJSON("other", StatusDone))
	})
	ctx := testContext(t)
	_, err := env.client.Runs.Get(ctx, "limited") // a call that is not a wait pauses the polls too
	require.ErrorIs(t, err, ErrRateLimited)
	pausedAt := env.clock.Now()

	run, err := env.client.Runs.Wait(ctx, "other", WithTimeout(5*time.Second))
	var te *TimeoutError
	require.ErrorAs(t, err, &te, "the pause outlasts the wait's timeout")
	assert.Equal(t, "other", run.ID)
	assert.Equal(t, 5*time.Second, env.clock.Now().Sub(pausedAt), "the wait ends on time")

	run, err = env.client.Runs.Wait(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, StatusDone, run.Status)
	assert.Equal(t, []time.Duration{pausedAt.Sub(epoch) + 30*time.Second}, polledAt, "the first poll goes out when the pause ends")
}

// A later 429 extends the pause to its own end, never adds to it.
func TestPauseExtendsNeverAdds(t *testing.T) {
	var p pause
	assert.Zero(t, p.left(epoch))
	p.extend(epoch.Add(10 * time.Second))
	p.extend(epoch.Add(5 * time.Second))
	assert.Equal(t, 10*time.Second, p.left(epoch), "a shorter pause does not cut the longer")
	p.extend(epoch.Add(12 * time.Second))
	assert.Equal(t, 12*time.Second, p.left(epoch), "a later end extends to it, not 10 s + 12 s")
	assert.Zero(t, p.left(epoch.Add(time.Minute)))

	env := setup(t)
	env.client.core.noteAnswer(http.StatusTooManyRequests, 2*time.Hour)
	assert.Equal(t, MaxRetryAfter, env.client.core.paused.left(env.clock.Now()), "capped at MaxRetryAfter")
	env.client.core.noteAnswer(http.StatusServiceUnavailable, 2*time.Hour)
	assert.Equal(t, MaxRetryAfter, env.client.core.paused.left(env.clock.Now()), "only a 429 pauses")
}

func TestWithPollRateValidation(t *testing.T) {
	for _, rate := range []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := NewClient(WithAPIKey(testKey), WithPollRate(rate))
		assert.ErrorIs(t, err, ErrInvalidParams, "%v", rate)
	}
	_, err := NewClient(WithAPIKey(testKey), WithPollRate(1e-300))
	assert.NoError(t, err, "tiny but positive")
}

// maxInWindow returns the most times that fall in any half-open window of
// length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	most, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// WithPollRate(50) holds in every 1-second window of virtual time, with
// every one of hundreds of waits polled to its end.
func TestPollRateHoldsInEveryWindow(t *testing.T) {
	for _, rate := range []float64{0, 50} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			var opts []Option
			if rate > 0 {
				opts = append(opts, WithPollRate(rate))
			}
			env := setup(t, opts...)
			var mu sync.Mutex
			var polls []time.Time
			counts := map[string]int{}
			env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
				id := r.PathValue("id")
				mu.Lock()
				polls = append(polls, env.clock.Now())
				counts[id]++
				n := counts[id]
				mu.Unlock()
				status := StatusRunning
				if n >= 4 {
					status = StatusDone
				}
				writeJSON(w, http.StatusOK, runJSON(id, status))
			})
			ids := make([]string, 300)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%d", i)
			}
			_, err := env.client.Runs.WaitAll(testContext(t), ids)
			require.NoError(t, err, "every wait polled to its end")
			mu.Lock()
			defer mu.Unlock()
			assert.Len(t, polls, 4*len(ids))
			most := maxInWindow(polls, time.Second)
			if rate == 0 {
				assert.Greater(t, most, 50, "without the bound, the waits poll faster")
				return
			}
			assert.LessOrEqual(t, most, 50, "at most 50 polls in any second")
			assert.Equal(t, 50, most, "a burst of one second's worth")
		})
	}
}

// Only polls count: other calls go out at once, however busy the gate.
func TestPollRateCountsOnlyPolls(t *testing.T) {
	env := setup(t, WithPollRate(0.1)) // one poll per 10 s
	statusSequence(t, env, "r1", StatusDone)
	ctx := testContext(t)
	_, err := env.client.Runs.Wait(ctx, "r1")
	require.NoError(t, err)
	start := env.clock.Now()
	_, err = env.client.Runs.Get(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, start, env.clock.Now(), "a get is not a poll")
	_, err = env.client.Runs.Wait(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, env.clock.Now().Sub(start), "the next poll waits for its slot")
	_, err = env.client.Runs.Wait(ctx, "r1", WithTimeout(3*time.Second))
	assert.ErrorIs(t, err, ErrWaitTimeout, "a slot past the deadline is not waited for")
	assert.Equal(t, 13*time.Second, env.clock.Now().Sub(start), "the wait ends at its deadline")
}

func TestRateGate(t *testing.T) {
	g := newRateGate(3) // 3 in any second
	far := epoch.Add(time.Hour)
	var got []time.Duration
	for range 7 {
		got = append(got, g.reserve(epoch, far).Sub(epoch))
	}
	s := time.Second
	assert.Equal(t, []time.Duration{0, 0, 0, s, s, s, 2 * s}, got, "a burst of one second's worth, then one second's worth a second")
	assert.Equal(t, 2*s, g.reserve(epoch, epoch.Add(2*s)).Sub(epoch), "too late for the deadline")
	assert.Equal(t, 2*s, g.reserve(epoch.Add(1500*time.Millisecond), far).Sub(epoch), "a slot refused is not taken")
	assert.Equal(t, 2*s, g.reserve(epoch.Add(1500*time.Millisecond), far).Sub(epoch))
	assert.Equal(t, 3*s, g.reserve(epoch.Add(1500*time.Millisecond), far).Sub(epoch))

	g = newRateGate(0.5) // one per 2 s
	assert.Equal(t, epoch, g.reserve(epoch, far))
	assert.Equal(t, epoch.Add(2*s), g.reserve(epoch, far))
	g = newRateGate(1e-300)
	assert.Equal(t, epoch, g.reserve(epoch, far))
	assert.Equal(t, epoch.Add(maxPollWindow), g.reserve(epoch, epoch.Add(maxPollWindow+1)), "no overflow")
	g = newRateGate(1e9)
	assert.Equal(t, maxPollBurst, g.burst)
}

// When the bound holds polls back, they go out in the order they fell due:
// each wait's next poll falls due a little after its last one went out, so
// the waits keep the order of their first polls, round after round.
func TestPollRateKeepsTheOrderPollsFellDue(t *testing.T) {
	env := setup(t, WithPollRate(1))
	var mu sync.Mutex
	var sequence []string
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		mu.Lock()
		sequence = append(sequence, id)
		mu.Unlock()
		status := StatusRunning
		if env.clock.Now().Sub(epoch) >= 40*time.Second {
			status = StatusDone
		}
		writeJSON(w, http.StatusOK, runJSON(id, status))
	})
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	_, err := env.client.Runs.WaitAll(testContext(t), ids)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(sequence), 40)
	first := sequence[:len(ids)]
	assert.ElementsMatch(t, ids, first)
	for i := len(ids); i+len(ids) <= 40; i += len(ids) {
		assert.Equal(t, first, sequence[i:i+len(ids)], "round %d keeps the order the polls fell due", i/len(ids)+1)
	}
}

// A poll held back by WithPollRate whose wait ends gives its slot back: a
// later wait's poll is not held behind slots nobody uses.
func TestPollRateSlotsOfEndedWaitsGoBack(t *testing.T) {
	env := setup(t, WithPollRate(1))
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, runJSON(r.PathValue("id"), StatusDone))
	})
	ctx := testContext(t)
	_, err := env.client.Runs.Get(ctx, "warm") // an answer lifts the pollers' bound
	require.NoError(t, err)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	for _, err := range env.client.Runs.WaitEach(ctx, ids) {
		require.NoError(t, err)
		break // the other 29 polls end while they wait for their slots
	}
	start := env.clock.Now()
	_, err = env.client.Runs.Wait(ctx, "later")
	require.NoError(t, err)
	assert.LessOrEqual(t, env.clock.Now().Sub(start), time.Second, "at 1 poll a second, a lone poll goes out within a second")
}

// With WithPollRate binding and a 429 on every tenth request, the polls of
// 200 waits stay evenly spread: a poll that meets the pause keeps its place
// in line, so no wait goes much longer than its fair share (200 waits at 5
// polls a second: 40 s) without a poll.
func TestPollsStayFairThroughPauses(t *testing.T) {
	env := setup(t, WithMaxConnsPerHost(4), WithPollRate(5))
	var n atomic.Int64
	var mu sync.Mutex
	last, gap := map[string]time.Duration{}, map[string]time.Duration{}
	env.mux.HandleFunc("GET /runs/{id}/", func(w http.ResponseWriter, r *http.Request) {
		now, id := env.clock.Now().Sub(epoch), r.PathValue("id")
		mu.Lock()
		if l, ok := last[id]; ok && now-l > gap[id] {
			gap[id] = now - l
		}
		last[id] = now
		mu.Unlock()
		if n.Add(1)%10 == 0 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "slow down"})
			return
		}
		writeJSON(w, http.StatusOK, runJSON(id, StatusRunning))
	})
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	_, err := env.client.Runs.WaitAll(testContext(t), ids, WithTimeout(10*time.Minute))
	require.ErrorIs(t, err, ErrWaitTimeout)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, last, 200, "every wait polled")
	for _, id := range ids {
		assert.LessOrEqual(t, gap[id], 60*time.Second, "run %s went %s without a poll", id, gap[id])
	}
}
