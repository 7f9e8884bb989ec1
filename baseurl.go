package stewai

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// baseURL returns the base URL given with WithBaseURL, or else
// STEWAI_BASE_URL, or else DefaultBaseURL, checked and normalized.
func baseURL(given *string, allowHTTP bool) (*url.URL, error) {
	raw, from := DefaultBaseURL, "default base URL"
	if given != nil {
		raw, from = *given, "WithBaseURL"
	} else if env := os.Getenv("STEWAI_BASE_URL"); env != "" {
		raw, from = env, "STEWAI_BASE_URL"
	}
	base, err := normalizeBaseURL(raw, allowHTTP)
	if err != nil {
		return nil, invalidf("%s: %v", from, err)
	}
	return base, nil
}

// normalizeBaseURL checks a base URL and returns it with a trailing slash,
// so that relative paths join below it. Its errors never quote credentials
// or query values.
func normalizeBaseURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	shown := displayURL(u)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: scheme must be http or https", shown)
	case u.Host == "":
		return nil, fmt.Errorf("%s: no host", shown)
	case u.User != nil:
		return nil, fmt.Errorf("%s: a base URL must not hold credentials; use WithAPIKey", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%s: a base URL must not have a query or fragment", shown)
	case u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("%s: plain http:// to a host that is not loopback would send the API key in clear text; use https://, or WithInsecureHTTP() if you must", shown)
	}
	if endpoint := endpointSuffix(u.Path); endpoint != "" {
		return nil, fmt.Errorf("%s ends in the endpoint path %q: give the API's base URL, such as %s", shown, endpoint, DefaultBaseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// displayURL shows u for an error: scheme, host and path, with any
// credentials and query left out.
func displayURL(u *url.URL) string {
	shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	s := fmt.Sprintf("%q", shown.String())
	if u.User != nil {
		s += " (credentials hidden)"
	}
	if u.RawQuery != "" {
		s += " (query hidden)"
	}
	return s
}

// isLoopback reports whether host is this machine: localhost or a loopback
// address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpointSuffix returns the endpoint path a base URL path ends in, such as
// "/runs", or "".
func endpointSuffix(path string) string {
	p := strings.TrimSuffix(path, "/")
	for _, endpoint := range []string{"/runs", "/storage", "/storage/upload", "/storage/resolve", "/recipes", "/marketplace"} {
		if strings.HasSuffix(p, endpoint) {
			return endpoint
		}
	}
	return ""
}
