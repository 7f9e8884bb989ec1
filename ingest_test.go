package stewai

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIngestSourceValidate(t *testing.T) {
	for _, tc := range []struct {
		src IngestSource
		ok  bool
	}{
		{URLSource("https://example.com/report.pdf"), true},
		{URLSource("http://example.com"), true},
		{URLSource("HTTPS://EXAMPLE.COM/x"), true},
		{URLSource("ftp://example.com/x"), false},
		{URLSource("https://"), false},
		{URLSource("example.com/report.pdf"), false},
		{URLSource("doc://01ABC"), false},
		{URLSource(""), false},
		{URLSource("https://exa mple.com/%zz"), false},
		{FileSource("doc://01ABCDEF", "Report"), true},
		{FileSource("doc://01ABCDEF", ""), true},
		{FileSource("doc://", ""), false},
		{FileSource("DOC://01ABC", ""), false},
		{FileSource("https://example.com/x", ""), false},
		{FileSource("", ""), false},
		{IngestSource{URI: "https://example.com"}, false},
		{IngestSource{URI: "https://example.com", Kind: "URL"}, false},
	} {
		err := tc.src.Validate()
		if tc.ok {
			assert.NoError(t, err, "%+v", tc.src)
		} else {
			assert.ErrorIs(t, err, ErrInvalidParams, "%+v", tc.src)
		}
	}
}

func TestIngestSourceJSON(t *testing.T) {
	b, err := json.Marshal([]IngestSource{URLSource("https://a.example"), FileSource("doc://x", "X")})
	require.NoError(t, err)
	assert.Equal(t, `[{"uri":"https://a.example","kind":"url"},{"uri":"doc://x","kind":"file","label":"X"}]`, string(b))
}
