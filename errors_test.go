package stewai

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAPIErrorIs(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{
		{401, ErrAuthentication}, {403, ErrAuthentication}, {429, ErrRateLimited}, {404, ErrNotFound},
		{400, nil}, {409, nil}, {500, nil}, {503, nil},
	} {
		err := fmt.Errorf("wrapped: %w", &APIError{StatusCode: tc.status})
		for _, sentinel := range []error{ErrAuthentication, ErrRateLimited, ErrNotFound} {
			assert.Equal(t, sentinel == tc.want, errors.Is(err, sentinel), "%d vs %v", tc.status, sentinel)
		}
		var apiErr *APIError
		assert.True(t, errors.As(err, &apiErr))
	}
}

func TestErrorMessages(t *testing.T) {
	long := strings.Repeat("é", 400)
	for _, tc := range []struct {
		name, ctype, body string
		wantMsg, wantCode string
	}{
		{"detail", "application/json", `{"detail": "Recipe not found."}`, "Recipe not found.", ""},
		{"nested error", "application/json", `{"error": {"code": "insufficient_credits", "message": "Top up to continue."}}`, "Top up to continue.", "insufficient_credits"},
		{"error string", "application/json", `{"error": "bad things"}`, "bad things", ""},
		{"message and code", "application/json", `{"message": "Too many requests", "code": 42}`, "Too many requests", "42"},
		{"validation list", "application/json", `{"detail": [{"loc": ["body","recipe_id"], "msg": "field required"}, {"msg": "inputs must be strings"}]}`,
			"field required; inputs must be strings", ""},
		{"plain text", "text/plain", "upstream connect error\nor disconnect", "upstream connect error or disconnect", ""},
		{"HTML proxy page", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", "", ""},
		{"HTML without content type", "", "  <!DOCTYPE html><html></html>", "", ""},
		{"JSON without message", "application/json", `{"foo": "bar"}`, "", ""},
		{"empty", "", "", "", ""},
		{"binary", "application/octet-stream", "\xff\xfe\x00", "", ""},
		{"long message cut on a rune boundary", "text/plain", long, strings.Repeat("é", maxMessageLen/2) + "…", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.ctype}}
			e := newAPIError("POST", "runs/", 502, h, []byte(tc.body), false, 0, "")
			assert.Equal(t, tc.wantMsg, e.Message)
			assert.Equal(t, tc.wantCode, e.Code)
			assert.Equal(t, tc.body, string(e.Body), "the raw body is kept")
			assert.NotContains(t, e.Error(), "\n", "one line")
			if tc.wantMsg == "" {
				assert.Equal(t, "stewai: POST runs/: 502 Bad Gateway", e.Error())
			} else {
				assert.Equal(t, "stewai: POST runs/: 502 Bad Gateway: "+tc.wantMsg, e.Error())
			}
		})
	}
}

func TestRunErrorAndTimeoutError(t *testing.T) {
	re := &RunError{RunID: "r1", Run: &Run{ID: "r1", Status: StatusCancelled}}
	assert.ErrorIs(t, re, ErrRunCancelled)
	assert.NotErrorIs(t, re, ErrRunFailed)
	assert.NotErrorIs(t, &RunError{RunID: "r1"}, ErrRunFailed, "no run, no match, no panic")

	cause := &APIError{StatusCode: 503, Method: "GET", Path: "runs/r1/"}
	te := &TimeoutError{RunID: "r1", Timeout: time.Minute, LastStatus: StatusRunning, Err: cause}
	assert.ErrorIs(t, te, ErrWaitTimeout)
	var apiErr *APIError
	assert.ErrorAs(t, te, &apiErr)
	assert.Equal(t, "stewai: run r1 still running after waiting 1m0s (the run goes on): last poll: stewai: GET runs/r1/: 503 Service Unavailable", te.Error())
}
