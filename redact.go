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
// value contains secret (written with escapes such as \u0073 or \/),
// including one left open at the end of b (a body cut short).
func redactJSONStrings(b []byte, secret string) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end := literalEnd(b, i)
		if end < 0 {
			if lit := rewriteOpenLiteral(b[i:], secret, false); !bytes.Equal(lit, b[i:]) {
				out = append(append(out, b[last:i]...), lit...)
				last = len(b)
			}
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

// literalEnd returns the index of the quote that closes the JSON string
// literal opening at b[i], or -1 when b ends first.
func literalEnd(b []byte, i int) int {
	end := i + 1
	for end < len(b) && b[end] != '"' {
		if b[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(b) {
		return -1
	}
	return end
}

// redactCut is redactBytes for a body cut short (at the error body cap, or
// by a connection that dropped): the key is cut out wherever it is whole,
// and so is any start of it the body ends in, plain, URL-escaped, or
// JSON-escaped in a string literal left open ("\u0073k-li"), since the rest
// of the key may be what was cut.
func redactCut(b []byte, secret string) []byte {
	if secret == "" || len(b) == 0 {
		return b
	}
	b = redactBytes(b, secret)
	for { // until neither step changes anything: each may uncover the other's case
		before := b // the steps reslice or allocate: before is not written
		b = cutSecretStart(cutOpenLiteral(b, secret), secret)
		if bytes.Equal(b, before) {
			return b
		}
	}
}

// cutSecretStart cuts off the end of b while it is a start of secret, as
// it is, URL-escaped or path-escaped.
func cutSecretStart(b []byte, secret string) []byte {
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	for cut := true; cut; {
		cut = false
		for _, form := range forms {
			if n := len(secretStartAtEnd(string(b), form)); n > 0 {
				b, cut = b[:len(b)-n], true
			}
		}
	}
	return b
}

// cutOpenLiteral rewrites the JSON string literal b ends inside, if any,
// with rewriteOpenLiteral in its cut mode.
func cutOpenLiteral(b []byte, secret string) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		end := literalEnd(b, i)
		if end < 0 { // the body ends inside this literal
			return append(b[:i:i], rewriteOpenLiteral(b[i:], secret, true)...)
		}
		i = end
	}
	return b
}

// rewriteOpenLiteral returns lit, a JSON string literal without its closing
// quote, with secret cut out of its decoded value; when cut, also any start
// of secret the value ends in, and an escape sequence cut short. lit is
// returned as it is when there is nothing to change.
func rewriteOpenLiteral(lit []byte, secret string, cut bool) []byte {
	n := len(lit)
	var s string
	if json.Unmarshal(append(lit[:n:n], '"'), &s) != nil {
		// An escape cut short at the end: decode without it.
		n = bytes.LastIndexByte(lit, '\\')
		if n <= 0 || json.Unmarshal(append(lit[:n:n], '"'), &s) != nil {
			if cut {
				return nil // undecodable and cut: keep none of it
			}
			return lit
		}
	}
	t := strings.ReplaceAll(s, secret, redacted)
	if cut {
		for s := secretStartAtEnd(t, secret); s != ""; s = secretStartAtEnd(t, secret) {
			t = t[:len(t)-len(s)]
		}
	} else {
		n = len(lit)
	}
	if t == s {
		return lit[:n]
	}
	enc, _ := json.Marshal(t)
	return enc[:len(enc)-1] // still open, as received
}

// secretStartAtEnd returns the longest suffix of s that is a start of
// secret, or "". A cut body loses such suffixes until it ends in none:
// what is left never ends in what may be the start of the key.
func secretStartAtEnd(s, secret string) string {
	for n := min(len(secret), len(s)); n > 0; n-- {
		if strings.HasSuffix(s, secret[:n]) {
			return s[len(s)-n:]
		}
	}
	return ""
}
