package stewai

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzRunUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`{"id":"01JRUN","recipe_id":"01JEXAMPLE","status":"queued","created_at":"2026-01-15T10:30:00Z","duration_ms":0}`,
		`{"id":"r","status":"paused","duration_ms":1500.5,"created_at":"2026-01-15T10:30:00.123+02:00","extra":[1,{"a":null}]}`,
		`{"id":"r2","status":"cancelled"}`,
		`{"id":"r","duration_ms":"12","created_at":null}`, `{"duration_ms":1e300}`, `null`, `[]`, `{"id":7}`, ` {"id":"x"} `,
		`{"ID":"a","id":"b","Status":"done"}`, `{"id":"a\u0062","status":"d\"one","id":null}`, `{"\u0069d":"x"}`,
		`{"created_at":"2026-01-15T10:30:00Z","created_at":5,"duration_ms":{"a":[1]},"status":null}`, "{\"id\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Run
		if err := json.Unmarshal(data, &r); err != nil {
			return
		}
		if r.Raw != nil && !bytes.Equal(r.Raw, trimJSONSpace(data)) {
			t.Fatalf("Raw %q is not the object received %q", r.Raw, data)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("a decoded run does not encode: %v", err)
		}
		_ = r.Status.IsTerminal()
		_ = r.validate()
		// Decoded strictly or not, a run is what the lenient reading gives.
		var lenient Run
		if isNull(data) {
			return
		}
		if err := lenient.decodeLenient(data); err != nil {
			t.Fatalf("decoded, but the lenient reading refuses it: %v", err)
		}
		if r.ID != lenient.ID || r.RecipeID != lenient.RecipeID || r.Status != lenient.Status ||
			r.DurationMS != lenient.DurationMS || !r.CreatedAt.Equal(lenient.CreatedAt) {
			t.Fatalf("decoded %+v, the lenient reading %+v", r, lenient)
		}
	})
}

func FuzzRunStepsUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`{"run":{"id":"r"},"steps":[{"id":"s","title":"t","kind":"llm_simple","status":"done","depends_on":[],` +
			`"output_flat":{"output_flat_version":1,"type":"text","primary":"x","usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3,"cost":0.1},"finish_reason":"stop"}}]}`,
		`{"steps":[{"id":"s","output_flat":{"type":"json","primary":{"a":[1,2]},"warnings":["w"],"schema_urn":"u"}}]}`,
		`{"steps":[{"output_flat":null},null]}`, `{"run":null,"steps":null}`, `{"steps":{}}`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s RunSteps
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		if s.Raw != nil && !bytes.Equal(s.Raw, trimJSONSpace(data)) {
			t.Fatalf("Raw %q is not the answer received %q", s.Raw, data)
		}
		_ = s.Usage()
		for _, st := range s.Steps {
			_, _ = st.Output.Text()
			var v any
			_ = st.Output.Decode(&v)
			if _, ok := s.Step(st.ID); !ok {
				t.Fatalf("step %q not found by its id", st.ID)
			}
		}
	})
}

func FuzzIngestSourceValidate(f *testing.F) {
	f.Add("https://example.com/report.pdf", "url", "")
	f.Add("doc://01ABCDEF", "file", "Report")
	f.Add("HTTP://x", "url", "l")
	f.Add("doc://", "file", "")
	f.Add("https://exa mple.com/%zz", "url", "")
	f.Add("s3://b/k", "s3", "")
	f.Fuzz(func(t *testing.T, uri, kind, label string) {
		src := IngestSource{URI: uri, Kind: SourceKind(kind), Label: label}
		err := src.Validate()
		if err == nil {
			switch src.Kind {
			case SourceURL:
				u, perr := url.Parse(uri)
				if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					t.Fatalf("accepted a url source that is not http(s): %q", uri)
				}
			case SourceFile:
				if !strings.HasPrefix(uri, "doc://") || len(uri) == len("doc://") {
					t.Fatalf("accepted a file source that is not doc://: %q", uri)
				}
			default:
				t.Fatalf("accepted kind %q", kind)
			}
		}
		wire, encErr := encodeIngest(map[string][]IngestSource{"step": {src}})
		if (err == nil) != (encErr == nil) {
			t.Fatalf("Validate (%v) and the create body (%v) disagree", err, encErr)
		}
		if encErr == nil {
			if _, err := json.Marshal(wire); err != nil {
				t.Fatalf("a valid source does not encode: %v", err)
			}
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, seed := range []string{
		`{"detail":"Recipe not found."}`, `{"error":{"code":"x","message":"m"}}`, `{"detail":[{"msg":"a"},"b",{"msg":7}]}`,
		`{"message":"line\nbreak","code":42}`, "<html>bad gateway</html>", "plain\ttext\r\n", "\xff\xfe", `{"error":[1,2]}`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		msg, code := parseErrorBody(body, contentType)
		for _, s := range []string{msg, code} {
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("not one line: %q", s)
			}
			if !utf8.ValidString(s) {
				t.Fatalf("not UTF-8: %q", s)
			}
			if len(s) > maxMessageLen+len("…") {
				t.Fatalf("%d bytes, over the limit", len(s))
			}
		}
	})
}

// An error body cut anywhere keeps neither the key nor, at its end, a start
// of it, whatever else the body holds; a string literal the cut leaves open
// never decodes to a value holding or ending in a start of the key.
func FuzzRedactCut(f *testing.F) {
	for _, seed := range []string{
		`{"detail": "key ` + testKey + ` is revoked"}`, `{"detail": "key \u0073` + testKey[1:] + `"}`,
		"key=" + testKey, `{"a": "\\", "b": "\u00`, `"` + testKey[:5] + `\"` + testKey,
	} {
		f.Add(seed, len(seed)/2)
	}
	f.Fuzz(func(t *testing.T, body string, cut int) {
		if cut < 0 || cut > len(body) {
			return
		}
		got := string(redactCut([]byte(body[:cut]), testKey))
		if strings.Contains(got, testKey) {
			t.Fatalf("%q keeps the key", got)
		}
		if s := secretStartAtEnd(got, testKey); s != "" {
			t.Fatalf("%q ends in %q, a start of the key", got, s)
		}
		for i := 0; i < len(got); i++ {
			if got[i] != '"' {
				continue
			}
			end := literalEnd([]byte(got), i)
			if end >= 0 {
				i = end
				continue
			}
			var v string
			if json.Unmarshal([]byte(got[i:]+`"`), &v) == nil && (strings.Contains(v, testKey) || secretStartAtEnd(v, testKey) != "") {
				t.Fatalf("%q leaves a literal open that decodes to %q", got, v)
			}
		}
	})
}

// FuzzRequestURL: for any path and query, the URL of the request is what
// url.Parse gives for the joined text, or an error where it gives one.
func FuzzRequestURL(f *testing.F) {
	for _, s := range [][2]string{{"runs/x/", ""}, {"runs/a%2Fb/", "page=2"}, {"a b", "q=#"}, {"%zz", ""}, {"runs/", "x=%E2%9C%93"}} {
		f.Add(s[0], s[1])
	}
	base, err := normalizeBaseURL("https://api.stewai.com/v1", false)
	if err != nil {
		f.Fatal(err)
	}
	baseText := base.String()
	f.Fuzz(func(t *testing.T, path, query string) {
		want, werr := parsedURL(t, baseText, path, query)
		got, gerr := requestURL(base, baseText, &request{path: path, query: query})
		if werr != nil {
			if gerr == nil {
				t.Fatalf("%q ? %q: url.Parse fails (%v), requestURL gives %v", path, query, werr, got.String())
			}
			return
		}
		if gerr != nil {
			t.Fatalf("%q ? %q: %v", path, query, gerr)
		}
		if *want != got {
			t.Fatalf("%q ? %q:\n got %#v\nwant %#v", path, query, got, *want)
		}
	})
}
