package stewai

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
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
// segment (a path that could climb out of the base URL) fails with
// ErrInvalidParams before anything is sent.
//
// in, when not nil, is encoded with encoding/json and sent as the body
// (json.RawMessage is sent as it is). out, when not nil, receives the JSON
// answer: pass a pointer to a struct, a map, or a *json.RawMessage to keep
// it raw; an empty answer (204 No Content) leaves it untouched. POST and
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
	for _, seg := range strings.Split(path, "/") {
		if dec, _ := url.PathUnescape(seg); dec == "." || dec == ".." {
			return "", "", invalidf("Do: path %q has a %q segment, which could climb out of the base URL", p, dec)
		}
	}
	return path, u.RawQuery, nil
}

// notTokenChar reports whether r cannot appear in an HTTP method.
func notTokenChar(r rune) bool {
	return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
