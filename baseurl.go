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
// or query values: a URL with an "@" is refused before net/url, whose
// errors quote the URL's text (a password with a "/", "?" or "#" in it
// makes the rest read as a port), has seen it.
func normalizeBaseURL(raw string, allowHTTP bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if err := checkRawBaseURL(raw); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL: its query may hold secrets
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
	// Parsed again from its own text, as a request's URL would be: a
	// RawPath that net/url keeps but never uses ("/café/" is sent as
	// "/caf%C3%A9/") is gone, and the request URLs made from the base are
	// what parsing their text gives (requesturl.go).
	if again, err := url.Parse(u.String()); err == nil {
		u = again
	}
	return u, nil
}

// checkRawBaseURL refuses, before parsing, a base URL that is empty, holds
// an "@" anywhere (credentials, however net/url would split them), or has
// no scheme. Its errors quote nothing that could be a credential.
func checkRawBaseURL(raw string) error {
	switch {
	case raw == "":
		return fmt.Errorf("empty base URL: give one such as %s", DefaultBaseURL)
	case strings.Contains(raw, "@"):
		return errors.New("the URL holds an \"@\" (credentials such as user:password@host, which are not shown): a base URL must not hold credentials; give the key with WithAPIKey or STEWAI_API_KEY")
	case !strings.Contains(raw, "://"):
		return fmt.Errorf("%s has no scheme: add https:// (or http:// for loopback), as in %s", displayRaw(raw), DefaultBaseURL)
	}
	return nil
}

// displayRaw quotes a base URL that did not parse for an error, up to its
// query or fragment (never shown).
func displayRaw(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return fmt.Sprintf("%q (query hidden)", raw[:i])
	}
	return fmt.Sprintf("%q", raw)
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
