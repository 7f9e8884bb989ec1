package stewai

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Over HTTP/1.1 the pollers stay as many as the connections; the first
// answer over HTTP/2 lets a connection carry more. A caller's own client
// has no pollers at all.
func TestPollersFollowTheProtocol(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, runJSON("r1", StatusDone))
		}))
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		defer srv.Close()
		client, err := NewClient(WithAPIKey(testKey), WithBaseURL(srv.URL+"/v1"), WithMaxConnsPerHost(3))
		require.NoError(t, err)
		// Make the client's own transport trust the test server, before its
		// first request (when it sets up HTTP/2).
		own := client.core.http.Transport.(*http.Transport)
		own.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		defer own.CloseIdleConnections()

		p := client.core.pollers
		require.NotNil(t, p)
		assert.Equal(t, 3*pollersPerConn-3, len(p.slots), "pollers before any answer")
		_, err = client.Runs.Wait(context.Background(), "r1")
		require.NoError(t, err)
		// The reserve is lifted over HTTP/2 only (TestPollersAllowMoreOverHTTP2
		// shows what lifting it does).
		assert.Equal(t, h2, p.released.Load(), "reserve lifted (HTTP/2: %v)", h2)
	}

	own, err := NewClient(WithAPIKey(testKey), WithHTTPClient(&http.Client{}))
	require.NoError(t, err)
	assert.Nil(t, own.core.pollers, "a caller's own client has no pollers")
}

// Ten waits on a client allowed two connections all end, on two
// connections: their polls take turns on the pollers.
func TestManyWaitsShareThePollers(t *testing.T) {
	env := setup(t, WithMaxConnsPerHost(2))
	seq := statusSequence(t, env, "r1", StatusQueued, StatusRunning, StatusDone)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := env.client.Runs.Wait(testContext(t), "r1")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.GreaterOrEqual(t, seq.Load(), int64(3))
	assert.LessOrEqual(t, env.conns.Load(), int64(2), "connections opened")
}
