package stewai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessageLen bounds the server message kept in an APIError's Message, so
// that Error() stays one readable line.
const maxMessageLen = 500

// newAPIError builds the error for a non-2xx answer. body is already capped;
// secret, when not empty, is cut out of everything the error keeps, in any
// form a server could echo it in. cut says that body is not the whole body
// (the cap or a dropped connection ended it): a start of the key it ends in
// is cut out too.
func newAPIError(method, path string, status int, h http.Header, body []byte, cut bool, retryAfter time.Duration, secret string) *APIError {
	if cut {
		body = redactCut(body, secret)
	} else {
		body = redactBytes(body, secret)
	}
	msg, code := parseErrorBody(body, h.Get("Content-Type"))
	return &APIError{
		StatusCode: status,
		Message:    redact(msg, secret),
		Code:       redact(code, secret),
		Body:       body,
		RequestID:  oneLine(redact(h.Get("X-Request-Id"), secret)),
		RetryAfter: retryAfter,
		Method:     method,
		Path:       path,
	}
}

// Bounds of the message extraction: how deep into nested lists it looks.
// The body is decoded once, so the work is linear in its size.
const maxMessageDepth = 4

// parseErrorBody pulls a message and code out of an error body: the common
// JSON shapes first, then plain text. HTML pages (a proxy's error page) give
// no message: the status line says more than their markup.
func parseErrorBody(body []byte, contentType string) (msg, code string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", ""
	}
	if trimmed[0] == '{' {
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if dec.Decode(&v) == nil {
			code = jsonText(v["code"], 0)
			if nested, ok := v["error"].(map[string]any); ok {
				msg = jsonText(nested["message"], 0)
				if c := jsonText(nested["code"], 0); c != "" {
					code = c
				}
			}
			for _, k := range []string{"detail", "error", "message"} {
				if msg == "" {
					msg = jsonText(v[k], 0)
				}
			}
			return oneLine(msg), oneLine(code)
		}
	}
	if strings.Contains(contentType, "html") || trimmed[0] == '<' {
		return "", ""
	}
	if !utf8.Valid(trimmed) {
		return "", ""
	}
	return oneLine(string(trimmed)), ""
}

// jsonText renders a decoded JSON value as message text: a string as
// itself, a number as written, a list of validation details ({"msg": ...}
// objects or strings) joined with "; ", looking at most maxMessageDepth
// lists deep and stopping once the text is long enough to be cut. Anything
// else gives "".
func jsonText(v any, depth int) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		if depth >= maxMessageDepth {
			return ""
		}
		var parts []string
		total := 0
		for _, item := range x {
			t := jsonText(item, depth+1)
			if obj, ok := item.(map[string]any); ok && t == "" {
				t = jsonText(obj["msg"], depth+1)
			}
			if t != "" {
				parts = append(parts, t)
				if total += len(t) + 2; total > maxMessageLen {
					break
				}
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// oneLine collapses whitespace runs (newlines included) to single spaces and
// truncates to maxMessageLen bytes on a rune boundary.
func oneLine(s string) string { return shortLine(s, maxMessageLen) }

// shortLine is s on one line (runs of white space, newlines included, made
// one space), cut to at most limit bytes on a rune boundary.
func shortLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
