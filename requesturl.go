package stewai

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The URL of each request is the base URL's, with the request's path below
// it and its query. Parsing that URL's text again on every attempt (as
// http.NewRequest does) costs more than the rest of building the request:
// for a path and query of plain characters, as the SDK's own paths are,
// the URL is made from the parsed base instead, field for field what
// url.Parse would give. Anything else is parsed.

// requestURL returns the URL of r below base (normalized, its path ending
// in "/"): the base's text joined with r's escaped path and encoded query,
// as url.Parse reads it.
func requestURL(base *url.URL, baseText string, r *request) (url.URL, error) {
	if plainPath(r.path) && plainQuery(r.query) {
		u := *base
		u.Path += r.path
		if u.RawPath != "" {
			u.RawPath += r.path
		}
		u.RawQuery = r.query
		return u, nil
	}
	target := baseText + r.path
	if r.query != "" {
		target += "?" + r.query
	}
	u, err := url.Parse(target)
	if err != nil {
		return url.URL{}, err
	}
	return *u, nil
}

// plainPath reports whether an escaped path is made of characters that
// stand for themselves: unreserved ones and "/". Its decoded form is then
// the same text, and net/url escapes none of it.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isUnreserved(c) && c != '/' {
			return false
		}
	}
	return true
}

// plainQuery reports whether an encoded query is one url.Parse keeps as
// it is: printable ASCII, without a space or a "#".
func plainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// newRequestAt is http.NewRequestWithContext for a URL already made: the
// request is built from an empty URL, which parses at no cost, and then
// given u (in the URL that parse allocated), with the Host http.NewRequest
// would set (an empty port dropped).
func newRequestAt(ctx context.Context, method string, u url.URL, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, "", body)
	if err != nil {
		return nil, err
	}
	u.Host = removeEmptyPort(u.Host)
	*req.URL, req.Host = u, u.Host
	return req, nil
}

// removeEmptyPort drops the ":" of a host with an empty port ("host:").
func removeEmptyPort(host string) string {
	if strings.LastIndex(host, ":") > strings.LastIndex(host, "]") {
		return strings.TrimSuffix(host, ":")
	}
	return host
}
