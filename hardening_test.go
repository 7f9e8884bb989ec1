package stewai

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hardening cases found by an adversarial review (issue 12), each a
// promise of RELIABILITY.md.

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, ok := range []string{"http://localhost:8080/v1", "http://127.0.0.1/v1", "http://127.9.9.9:1/v1", "http://[::1]:9/v1", "http://api.localhost/v1", "https://api.example/v1"} {
		_, err := NewClient(WithAPIKey(testKey), WithBaseURL(ok))
		assert.NoError(t, err, ok)
	}
	_, err := NewClient(WithAPIKey(testKey), WithBaseURL("http://api.example/v1"))
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "clear text")
	assert.Contains(t, err.Error(), "WithInsecureHTTP()", "the error says how to opt in")
	_, err = NewClient(WithAPIKey(testKey), WithBaseURL("http://api.example/v1"), WithInsecureHTTP())
	assert.NoError(t, err, "an explicit opt-in")

	t.Setenv("STEWAI_BASE_URL", "http://10.0.0.7/v1")
	_, err = NewClient(WithAPIKey(testKey))
	assert.ErrorIs(t, err, ErrInvalidParams, "from the environment too")
}

func TestBaseURLEndingInAnEndpoint(t *testing.T) {
	for _, raw := range []string{"https://api.stewai.com/v1/runs", "https://api.stewai.com/v1/runs/", "https://api.stewai.com/v1/storage/upload/", "https://api.stewai.com/v1/recipes"} {
		_, err := NewClient(WithAPIKey(testKey), WithBaseURL(raw))
		require.ErrorIs(t, err, ErrInvalidParams, raw)
		assert.Contains(t, err.Error(), "endpoint path", raw)
	}
	_, err := NewClient(WithAPIKey(testKey), WithBaseURL("https://proxy.example/stewai/runs-api/v1"))
	assert.NoError(t, err, "only a whole endpoint segment counts")
}

// A user's http.Client.Timeout is a request timeout, not the caller's
// context ending.
func TestHTTPClientTimeoutIsARequestTimeout(t *testing.T) {
	env := setup(t, WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}), WithMaxRetries(1))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context has no deadline")
	assert.Contains(t, err.Error(), "http.Client's timeout")
	// Counted by the client: under load the retry's 20 ms may run out
	// before the server has taken the request.
	assert.Contains(t, err.Error(), "(after 2 attempts)", "a timeout is transient: retried")
}

// A create whose answer has an id that cannot reach the run is a malformed
// answer, carrying what came back, never ErrInvalidParams ("nothing was
// sent"), and is not retried: retrying could start a second run.
func TestCreateWithAnUnusableID(t *testing.T) {
	for _, id := range []string{".", "..", "  "} {
		env := setup(t)
		var posts atomic.Int64
		env.mux.HandleFunc("POST /runs/", func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			writeJSON(w, http.StatusAccepted, runJSON(id, StatusQueued))
		})
		run, err := env.client.Runs.Create(testContext(t), CreateRunParams{RecipeID: "r"})
		require.ErrorIs(t, err, ErrMalformedResponse, "%q", id)
		assert.NotErrorIs(t, err, ErrInvalidParams)
		assert.Contains(t, err.Error(), `unusable id "`+id+`"`)
		require.NotNil(t, run, "what came back is returned")
		assert.Equal(t, id, run.ID)
		assert.Contains(t, string(run.Raw), `"recipe_id"`)
		assert.Equal(t, int64(1), posts.Load(), "not retried")
	}
}

// Retry-After inside a wait is capped like everywhere else, and floored at
// the wait's own schedule.
func TestWaitRetryAfterBounds(t *testing.T) {
	t.Run("capped at 60 s", func(t *testing.T) {
		env := setup(t)
		var n atomic.Int64
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, http.StatusOK, runJSON("r1", StatusDone))
		})
		run, err := env.client.Runs.Wait(testContext(t), "r1")
		require.NoError(t, err, "the run was done: the wait must see it, not sleep to its deadline")
		assert.Equal(t, StatusDone, run.Status)
		assert.Equal(t, []time.Duration{MaxRetryAfter}, env.clock.Sleeps())
	})
	t.Run("floored at the schedule", func(t *testing.T) {
		env := setup(t)
		var n atomic.Int64
		env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "0.001")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		_, err := env.client.Runs.Wait(testContext(t), "r1", WithTimeout(2*time.Second))
		require.ErrorIs(t, err, ErrWaitTimeout)
		assert.LessOrEqual(t, n.Load(), int64(6), "a tiny Retry-After does not make the wait poll faster than its schedule")
		for _, d := range env.clock.Sleeps() {
			assert.GreaterOrEqual(t, d, 400*time.Millisecond, "no delay under the first interval's floor (500 ms - 20 %%), but the last, clamped to the deadline")
			if d < 400*time.Millisecond {
				break
			}
		}
	})
}

// Extracting a message from an error body is linear in its size, however
// deeply it nests: at most a small multiple of the body is allocated.
func TestErrorBodyParsingIsLinear(t *testing.T) {
	const depth = 20_000
	body := []byte(`{"detail":` + strings.Repeat("[", depth) + `"deep"` + strings.Repeat("]", depth) + `}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	msg, _ := parseErrorBody(body, "application/json")
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(100*len(body)), "allocated %d bytes for a %d-byte body", allocated, len(body))
	assert.NotContains(t, msg, "deep", "the message is looked for only a few levels deep")

	shallow := []byte(`{"detail": [[{"msg": "field required"}], "second"]}`)
	msg, _ = parseErrorBody(shallow, "application/json")
	assert.Equal(t, "field required; second", msg)
}

// stalledReader gives some bytes, then blocks until released.
type stalledReader struct {
	first   []byte
	stalled chan struct{}
	release chan struct{}
}

func (s *stalledReader) Read(p []byte) (int, error) {
	if len(s.first) > 0 {
		n := copy(p, s.first)
		s.first = s.first[n:]
		return n, nil
	}
	select {
	case s.stalled <- struct{}{}:
	default:
	}
	<-s.release
	return 0, io.EOF
}

// A one-shot stream that stalls ends the upload after the request timeout,
// even with a context that has no deadline: no upload can hang.
func TestUploadStallEndsWithTheRequestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // reads until the client gives up
	}))
	defer srv.Close()
	c, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL), WithRequestTimeout(200*time.Millisecond)) // real time: the scenario is a real stall
	require.NoError(t, err)
	r := &stalledReader{first: []byte("some bytes"), stalled: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(r.release)
	_, err = c.Storage.Upload(context.Background(), r, "stall.bin")
	require.ErrorIs(t, err, ErrRequestTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

// The request timeout bounds a stall, not a transfer that is making
// progress: an upload that takes longer than the timeout but keeps sending
// goes through.
func TestUploadMakingProgressIsNotCut(t *testing.T) {
	content := &slowReader{chunks: 12, every: 3 * time.Second, call: make(chan context.Context, 1)}
	env := setup(t, WithRequestTimeout(10*time.Second), WithMiddleware(func(r *http.Request, next MiddlewareNext) (*http.Response, error) {
		select {
		case content.call <- r.Context(): // the upload's call, which the reader's sleeps belong to
		default: // a second attempt: the test fails on its error
		}
		return next(r)
	}))
	content.clock = env.clock
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		got := readUpload(t, r)
		writeJSON(w, 201, fileJSON(got.filename, len(got.content)))
	})
	// Each chunk of the content arrives 3 s (of the virtual clock) after
	// the last: 12 chunks take 36 s, more than three times the request
	// timeout. The upload reads at most three chunks ahead of what the
	// transport has sent (two buffers, one being filled), so the clock can
	// run 3 × 3 s = 9 s past the last progress the transport made: under
	// the 10 s timeout. At 4 s a chunk it would be 12 s, and the upload
	// rightly cut.
	file, err := env.client.Storage.Upload(testContext(t), content, "slow.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(12*1024), file.SizeBytes)
}

// slowReader yields a KiB per read, each after sleeping on the virtual
// clock as part of the upload's call (a slow source the call waits on).
type slowReader struct {
	clock  *testClock
	call   chan context.Context
	ctx    context.Context
	chunks int
	every  time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.chunks == 0 {
		return 0, io.EOF
	}
	if s.ctx == nil {
		s.ctx = <-s.call
	}
	s.chunks--
	if err := s.clock.Sleep(s.ctx, s.every); err != nil {
		return 0, err
	}
	return copy(p, bytes.Repeat([]byte("x"), min(len(p), 1024))), nil
}

// A progress callback that blocks does not hold up cancellation.
func TestUploadBlockingProgressCallbackDoesNotBlockCancel(t *testing.T) {
	env := setup(t)
	env.mux.HandleFunc("POST /storage/upload/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	ctx, cancel := context.WithCancel(testContext(t))
	unblock := make(chan struct{})
	defer close(unblock)
	var once sync.Once
	_, err := env.client.Storage.Upload(ctx, bytes.NewReader(make([]byte, 1<<20)), "p.bin", WithProgress(func(sent, total int64) {
		once.Do(cancel) // the caller gives up ...
		<-unblock       // ... while its callback is stuck
	}))
	assert.ErrorIs(t, err, context.Canceled, "Upload returned at once")
}

// zeros yields n zero bytes, 32 KiB a read, as a chunked body arrives.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n, 32<<10)
	z.n -= k
	return int(k), nil
}

// allocatedBy is the bytes f allocates: the least of three runs, so that
// another goroutine allocating meanwhile does not count.
func allocatedBy(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// An oversized answer of unknown length costs memory near the limit:
// readBounded allocates at most twice the limit in all (1.5 times at its
// peak, while it grows), against 2.5 times for io.ReadAll, the baseline
// measured in the same run.
func TestOversizedAnswerMemory(t *testing.T) {
	const limit = 8 << 20
	baseline := allocatedBy(func() { _, _ = io.ReadAll(io.LimitReader(&zeros{4 * limit}, limit+1)) })
	var got []byte
	var over bool
	ours := allocatedBy(func() { got, over, _ = readBounded(&zeros{4 * limit}, limit, -1) })
	t.Logf("allocated %.2fx the limit, io.ReadAll %.2fx", float64(ours)/limit, float64(baseline)/limit)
	assert.Len(t, got, limit, "read to the limit and no further")
	assert.True(t, over)
	assert.Less(t, ours, uint64(limit)*21/10)
	assert.Less(t, ours, baseline*9/10)

	env := setup(t, WithMaxResponseBytes(limit), WithMaxRetries(0))
	env.mux.HandleFunc("GET /runs/r1/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // chunked: no Content-Length to reject it by
		chunk := make([]byte, 64<<10)
		for range (4 * limit) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	_, err := env.client.Runs.Get(testContext(t), "r1")
	require.ErrorIs(t, err, ErrResponseTooLarge)
}

func TestReadBounded(t *testing.T) {
	for _, tc := range []struct {
		size, limit, hint int64
		want              int
		over              bool
	}{
		{0, 10, -1, 0, false}, {5, 10, -1, 5, false}, {10, 10, -1, 10, false}, {11, 10, -1, 10, true}, {25, 10, -1, 10, true},
		{5, 10, 5, 5, false}, {2000, 4096, 2000, 2000, false}, {5000, 4096, -1, 4096, true}, {4096, 4096, 4096, 4096, false},
	} {
		b, over, err := readBounded(bytes.NewReader(make([]byte, tc.size)), tc.limit, tc.hint)
		require.NoError(t, err)
		assert.Len(t, b, tc.want, "%+v", tc)
		assert.Equal(t, tc.over, over, "%+v", tc)
		assert.LessOrEqual(t, int64(cap(b)), tc.limit, "never grown past the limit: %+v", tc)
	}
}

// A leading slash in a Pantry path stands for the root, as in a file
// system: "/Reports/Q4.pdf" is the same file as "Reports/Q4.pdf".
func TestResolvePathLeadingSlash(t *testing.T) {
	env := setup(t)
	var queries []string
	env.mux.HandleFunc("GET /storage/resolve/", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		writeJSON(w, http.StatusOK, fileJSON("Q4.pdf", 3))
	})
	for _, p := range []string{"/Reports/Q4.pdf", "Reports/Q4.pdf", "//Reports/Q4.pdf"} {
		_, err := env.client.Storage.ResolvePath(testContext(t), p)
		require.NoError(t, err, p)
	}
	assert.Equal(t, []string{"path=Reports%2FQ4.pdf", "path=Reports%2FQ4.pdf", "path=Reports%2FQ4.pdf"}, queries)
}
