package retry

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-3", 0, false},
		{"abc", 0, false},
		{"NaN", 0, false},
		{"1e400", 0, false},
		{"99999999999999999999", MaxRetryAfter, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{"Thursday, 15-Jan-26 10:31:00 GMT", time.Minute, true}, // RFC 850
		{"Thu Jan 15 10:30:05 2026", 5 * time.Second, true},     // ANSI C
		{"Thu, 15 Jan 2026 25:00:00 GMT", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func TestTransientStatus(t *testing.T) {
	for code := 100; code < 600; code++ {
		want := code == 408 || code == 429 || code == 500 || code == 502 || code == 503 || code == 504
		assert.Equal(t, want, TransientStatus(code), "%d", code)
	}
}

type fixedClock struct{}

func (fixedClock) Now() time.Time { return time.Time{} }

func TestScheduleIsCappedAfterJitter(t *testing.T) {
	s := NewSchedule(time.Second, 4*time.Second, 2, 0.5, fixedClock{})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, c := range want {
		d := s.Next()
		assert.GreaterOrEqual(t, d, c/2, "delay %d", i)
		assert.LessOrEqual(t, d, min(c*3/2+1, 4*time.Second), "delay %d never passes the cap", i)
	}
	s = NewSchedule(10*time.Second, time.Second, 1.5, 0.2, fixedClock{})
	assert.LessOrEqual(t, s.Next(), time.Second, "an initial interval above the cap is lowered")
}
