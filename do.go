package stewai

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Do calls any endpoint of the API through the same pipeline as every
// other call: the key, the User-Agent, retries of transient failures,
// errors as *APIError, logging. Use it for endpoints this package does not
// wrap, such as creating or updating recipes where the service allows it.
//
// path is relative to the base URL, such as "recipes/01JEXAMPLE/"; it may
// carry a query ("runs/?page=2") and a leading slash is ignored. StewAI's
// paths end with a slash. An absolute URL, a fragment, or a "." or ".."
// segment (a path that could climb out of the base URL), also once
// percent-decoded ("%2e%2e", "..%2F"), fails with ErrInvalidParams before
// anything is sent.
//
// in, when not nil, is encoded with encoding/json and sent as the body
// (json.RawMessage is sent as it is). out, when not nil, receives the JSON
// answer: pass a non-nil pointer to a struct, a map, or a *json.RawMessage
// to keep it raw; an empty answer (204 No Content) leaves it untouched. An
// out that is neither nil nor a non-nil pointer fails with ErrInvalidParams
// before anything is sent. POST and
// PATCH carry an Idempotency-Key that stays the same on every retry of the
// call, as Create's does.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	if c == nil || c.core == nil {
		return invalidf("Do: nil or zero Client (make one with NewClient)")
	}
	if method == "" || strings.IndexFunc(method, notTokenChar) >= 0 {
		return invalidf("Do: %q is not an HTTP method", method)
	}
	rel, query, err := relativePath(path)
	if err != nil {
		return err
	}
	if err := checkOut(out); err != nil {
		return err
	}
	r := &request{method: method, path: rel, query: query, emptyOK: true}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return invalidf("Do: the request body does not encode as JSON: %v", err)
		}
		r.body = jsonBody(b)
	}
	if method == http.MethodPost || method == http.MethodPatch {
		r.idempotencyKey = ulid.Make().String()
	}
	return c.core.do(ctx, r, out)
}

// relativePath checks a path given to Do and splits it into its escaped
// path below the base URL and its query.
func relativePath(p string) (path, query string, err error) {
	if strings.TrimSpace(p) == "" {
		return "", "", invalidf("Do: empty path")
	}
	if !validHeaderValue(p) || strings.HasPrefix(p, "//") {
		return "", "", invalidf("Do: path %q must be relative to the base URL", p)
	}
	u, err := url.Parse(p)
	switch {
	case err != nil:
		return "", "", invalidf("Do: path %q does not parse: %v", p, err)
	case u.Scheme != "" || u.Host != "" || u.Opaque != "":
		return "", "", invalidf("Do: %q is an absolute URL; give a path relative to the base URL", p)
	case u.Fragment != "" || strings.Contains(p, "#"):
		return "", "", invalidf("Do: path %q has a fragment", p)
	}
	path = strings.TrimPrefix(u.EscapedPath(), "/")
	if dot := dotSegment(path); dot != "" {
		return "", "", invalidf("Do: path %q has a %q segment once decoded, which could climb out of the base URL", p, dot)
	}
	return path, u.RawQuery, nil
}

// dotSegment returns "." or ".." when an escaped path has such a segment
// once percent-decoded, counting an encoded slash (%2F) or backslash (%5C)
// as a separator, as servers and proxies that decode before routing do:
// "..%2F..%2Fadmin" and "%2e%2e" climb as "../" does. Otherwise "".
func dotSegment(escaped string) string {
	for _, seg := range strings.Split(escaped, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		for _, part := range strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == "." || part == ".." {
				return part
			}
		}
	}
	return ""
}

// checkOut rejects an out that json.Unmarshal could not fill: anything but
// nil (the answer is discarded) or a non-nil pointer. Checked before
// anything is sent, so that a POST is never made for an answer that cannot
// be kept.
func checkOut(out any) error {
	if out == nil {
		return nil
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return invalidf("Do: out is a %T, not a non-nil pointer (pass &v, or nil to discard the answer)", out)
	}
	return nil
}

// notTokenChar reports whether r cannot appear in an HTTP method.
func notTokenChar(r rune) bool {
	return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
