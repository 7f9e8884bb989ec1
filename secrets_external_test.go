package stewai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/stewaitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The key is in no value of the SDK a program might print or log.
func TestKeyInNoPrintedValue(t *testing.T) {
	const key = "sk-live-printed-0123456789"
	srv := stewaitest.NewServer(stewaitest.WithAPIKey(key),
		stewaitest.WithRecipe("failing", stewaitest.Recipe{Final: stewai.StatusFailed}),
		stewaitest.WithRecipe("slow", stewaitest.Recipe{Final: stewai.StatusRunning}))
	defer srv.Close()
	var logs bytes.Buffer
	c := srv.Client(stewai.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))))
	ctx := context.Background()

	values := []any{c, *c, c.Runs, c.Storage}
	run, err := c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "failing"})
	values = append(values, run, err)
	_, err = c.Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "slow"}, stewai.WithTimeout(time.Second))
	values = append(values, err)
	bad := srv.Client(stewai.WithAPIKey(key + "-wrong"))
	_, err = bad.Runs.Get(ctx, run.ID)
	require.ErrorIs(t, err, stewai.ErrAuthentication)
	values = append(values, err)
	srv.Inject(stewaitest.Fault{Drop: true})
	_, err = c.Runs.Get(ctx, run.ID)
	values = append(values, err)
	_, err = stewai.NewClient(stewai.WithAPIKey(key + "\n\x00"))
	values = append(values, err)

	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, key, "%s of %T", verb, v)
			assert.NotContains(t, out, fmt.Sprintf("%x", key), "%s of %T", verb, v)
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("value", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("value", "v", v)
		assert.NotContains(t, text.String()+js.String(), key, "slog of %T", v)
		if b, err := json.Marshal(v); err == nil {
			assert.NotContains(t, string(b), key, "JSON of %T", v)
		}
	}
	assert.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), key, "no log line at any level")

	// The one panic in this module: a test helper given a bad option.
	func() {
		defer func() {
			p := recover()
			require.NotNil(t, p)
			assert.NotContains(t, fmt.Sprint(p), key)
		}()
		srv.Client(stewai.WithAPIKey(key + "\x00tail"))
	}()
}
