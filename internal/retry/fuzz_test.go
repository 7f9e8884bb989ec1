package retry

import (
	"testing"
	"time"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "0", "7", " 1.5 ", "-3", "1e400", "NaN", "99999999999999999999",
		"Thu, 15 Jan 2026 10:31:00 GMT", "Thursday, 15-Jan-26 10:31:00 GMT", "Thu Jan 15 10:30:05 2026", "0x1p-2"} {
		f.Add(seed, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, offsetSecs int64) {
		now := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC).Add(time.Duration(offsetSecs%(1<<33)) * time.Second)
		d, ok := ParseRetryAfter(v, now)
		if !ok && d != 0 {
			t.Fatalf("%q: unreadable but %s", v, d)
		}
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("%q: %s is out of [0, %s]", v, d, MaxRetryAfter)
		}
	})
}
