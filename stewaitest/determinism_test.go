package stewaitest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scenario runs one test's worth of calls on a fresh server and returns
// what the server saw: each request with the virtual time it came at.
func scenario(t *testing.T, opts ...stewaitest.Option) string {
	t.Helper()
	var seen []string
	var srv *stewaitest.Server
	opts = append(opts,
		stewaitest.WithRecipe("slow", stewaitest.Recipe{Duration: 40 * time.Second}),
		stewaitest.WithRecipe("flaky", stewaitest.Recipe{Final: stewai.StatusFailed}, stewaitest.Recipe{Duration: 3 * time.Second}),
		stewaitest.WithFault(stewaitest.Fault{Method: "GET", Path: "runs/", Times: 2, Status: 503}),
		stewaitest.OnRequest(func(r stewaitest.Request) {
			seen = append(seen, fmt.Sprintf("%s %s %s", r.Time.Format("15:04:05.000000"), r.Method, r.Path))
		}),
	)
	srv = stewaitest.NewServer(opts...)
	defer srv.Close()
	c := srv.Client()
	ctx := testContext(t)
	_, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"})
	require.NoError(t, err)
	for range 2 {
		_, _ = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "flaky"})
	}
	return strings.Join(seen, "\n")
}

// The same test sends the same requests, at the same virtual times, on
// every run: poll jitter comes from a seeded source, and ids from the
// virtual clock and that seed.
func TestSameScenarioSameRequests(t *testing.T) {
	first := scenario(t)
	require.NotEmpty(t, first)
	for i := range 4 {
		assert.Equal(t, first, scenario(t), "run %d differs from the first", i+2)
	}
	assert.NotEqual(t, first, scenario(t, stewaitest.WithSeed(2)), "another seed, other jitter")
}
