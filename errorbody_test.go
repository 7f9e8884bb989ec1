package stewai

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

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
