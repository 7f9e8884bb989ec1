package stewai

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// redacted replaces the key wherever it is found.
const redacted = "[REDACTED]"

// redact removes secret from s in every form a server could echo it in:
// as it is, URL-escaped, or JSON-escaped inside a string literal.
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	return string(redactBytes([]byte(s), secret))
}

// redactBytes is redact for bytes. It returns b itself when there is
// nothing to remove.
func redactBytes(b []byte, secret string) []byte {
	if secret == "" || len(b) == 0 {
		return b
	}
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		if bytes.Contains(b, []byte(form)) {
			b = bytes.ReplaceAll(b, []byte(form), []byte(redacted))
		}
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return b // no escapes: no other form to find
	}
	return redactJSONStrings(b, secret)
}

// redactJSONStrings rewrites each JSON string literal in b whose decoded
// value contains secret (written with escapes such as \u0073 or \/).
func redactJSONStrings(b []byte, secret string) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end := i + 1
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(b) {
			break
		}
		var s string
		if bytes.IndexByte(b[i:end], '\\') >= 0 && json.Unmarshal(b[i:end+1], &s) == nil && strings.Contains(s, secret) {
			enc, _ := json.Marshal(strings.ReplaceAll(s, secret, redacted))
			out = append(append(out, b[last:i]...), enc...)
			last = end + 1
		}
		i = end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}
