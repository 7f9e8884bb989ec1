// Package stewaitest serves a fake StewAI API on loopback for tests, the way
// net/http/httptest serves HTTP: import it in your own tests to exercise code
// that uses package stewai without the real service, credits or timing.
//
// The fake speaks the documented wire and is strict about it, as the real
// service is: requests need the key, paths end in a slash, bodies are
// validated and answered with a 400 that names the problem. Runs move from
// queued through running to a final status; recipes, faults and time are
// scriptable:
//
//	srv := stewaitest.NewServer(stewaitest.WithRecipe("r", stewaitest.Recipe{Final: stewai.StatusBlocked}))
//	defer srv.Close()
//	_, err := srv.Client().Runs.Create(ctx, stewai.CreateRunParams{RecipeID: "r"})
//	// errors.Is(err, stewai.ErrRunBlocked) after two polls
//
// # Virtual time
//
// A client from Server.Client runs on the server's virtual clock, so tests
// built on it never wait for real and come out the same on every run. The
// clock follows the model of testing/synctest: time stands still while any
// call on the server's clients is doing something (building a request,
// waiting for the server to answer, decoding), and jumps to the earliest
// wake-up (a poll's delay, a retry's backoff, a request timeout, a Latency
// fault) only when every call in progress is asleep. Any number of
// goroutines can use the server's clients at once and see exactly what they
// would see in real time: no call times out, or waits longer, because
// another goroutine slept. A run scripted to take 10 s reports 10 000 ms
// whatever else happens; a run that moves by polls reports 100 ms per poll.
//
// Time moves only for calls of clients from Server.Client (whatever
// WithHTTPClient they are given). Other clients see the server's time stand
// still: serve them WithRealTime, as cmd/stewai-fake does. Code of your
// own between calls, such as a loop body over Runs.Watch, does not hold
// time still.
package stewaitest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stewai/stewai-go"
	"github.com/stewai/stewai-go/internal/clock"
	"github.com/stewai/stewai-go/internal/config"
)

// DefaultAPIKey is the key a Server accepts unless WithAPIKey says otherwise.
const DefaultAPIKey = "sk-test-stewaitest"

// maxJSONBody bounds JSON request bodies, as a real server would.
const maxJSONBody = 1 << 20

// maxHeldBody bounds the request body a Latency fault reads before it
// holds the request.
const maxHeldBody = 64 << 20

// Server is a fake StewAI API listening on loopback. Make one with NewServer
// and Close it when done. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL, such as "http://127.0.0.1:39117/v1": pass it
	// to stewai.WithBaseURL, or use Client.
	URL string
	// APIKey is the key the server accepts.
	APIKey string

	ts        *httptest.Server
	clock     *clock.Virtual // nil when running on real time
	realTime  bool
	onRequest func(Request)

	mu          sync.Mutex
	recipes     *recipeBook
	market      []MarketplaceEntry // nil: the marketplace is not enabled
	selfService bool
	strictFiles bool
	accessLog   io.Writer
	runs        map[string]*run
	order       []string // run ids in creation order
	idem        map[string]idempotent
	files       *fileStore
	faults      []*pendingFault
	log         []Request
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server accept key instead of DefaultAPIKey.
func WithAPIKey(key string) Option {
	return func(s *Server) { s.APIKey = key }
}

// WithRecipe scripts what runs of recipe id do, and lists the recipe in
// GET recipes/. The nth run of the recipe follows the nth script, the last
// one repeating:
//
//	WithRecipe("r", Recipe{Final: stewai.StatusFailed}, Recipe{}) // fails once, then succeeds
//
// See Recipe for what runs of recipes without a script do.
func WithRecipe(id string, first Recipe, then ...Recipe) Option {
	return func(s *Server) { s.recipes.script(id, append([]Recipe{first}, then...)) }
}

// WithAccessLog writes one line per request to w once it is answered:
// method, path, status (0 for a dropped connection) and the wall time it
// took, as a development server does.
func WithAccessLog(w io.Writer) Option {
	return func(s *Server) { s.accessLog = w }
}

// WithStrictFiles makes the fake answer 400, naming the file, to a run
// whose doc:// source was not uploaded to it (or stored with PutFile). By
// default any well-formed doc:// URI is accepted, such as the StewAI docs'
// own "doc://01ABCDEF...": the real service's check is not documented.
func WithStrictFiles() Option {
	return func(s *Server) { s.strictFiles = true }
}

// WithSelfService enables recipe self-service, which the real service
// disables by default: GET recipes/{id}/ answers the recipe instead of 404.
func WithSelfService() Option {
	return func(s *Server) { s.selfService = true }
}

// WithMarketplace enables the marketplace with these published recipes.
// Without it, as on deployments that do not enable it, every marketplace
// path answers 404. Runs of a marketplace recipe follow the script given
// to WithRecipe for its ULID, if any.
func WithMarketplace(entries ...MarketplaceEntry) Option {
	return func(s *Server) { s.market = append(s.market, entries...) }
}

// WithFault injects a fault from the start; see Server.Inject.
func WithFault(f Fault) Option {
	return func(s *Server) { s.faults = append(s.faults, &pendingFault{Fault: f, left: f.Times}) }
}

// OnRequest calls fn with each request as it arrives, before it is
// handled, on the goroutine serving it; fn must not block. Tests use it to
// act at a precise moment, such as cancelling a call the server has received.
func OnRequest(fn func(Request)) Option {
	return func(s *Server) { s.onRequest = fn }
}

// WithRealTime makes the server keep wall-clock time only: Latency faults
// really wait and clients from Client really sleep. Use it when serving
// programs rather than tests (cmd/stewai-fake does).
func WithRealTime() Option {
	return func(s *Server) { s.realTime = true }
}

// WithListener makes the server accept connections on l instead of a new
// loopback listener; the server closes it.
func WithListener(l net.Listener) Option {
	return func(s *Server) { s.ts.Listener.Close(); s.ts.Listener = l }
}

// NewServer starts a fake StewAI API on a loopback port. It panics if it
// cannot listen, as httptest.NewServer does.
func NewServer(opts ...Option) *Server {
	s := &Server{
		APIKey:  DefaultAPIKey,
		recipes: &recipeBook{byID: map[string]*recipeScript{}},
		runs:    map[string]*run{},
		idem:    map[string]idempotent{},
		files:   newFileStore(),
	}
	s.ts = httptest.NewUnstartedServer(s)
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	if !s.realTime {
		s.clock = clock.NewVirtual(time.Now().UTC().Truncate(time.Second))
	}
	// URL is set before the server starts: handlers read it (page links),
	// and the race detector sees no order between this goroutine and theirs.
	s.URL = "http://" + s.ts.Listener.Addr().String() + "/v1"
	s.ts.Start()
	return s
}

// Close shuts the server down and waits for requests in flight to end.
func (s *Server) Close() { s.ts.Close() }

// Client returns a client for this server with its key, on the server's
// clock, with opts applied after. It panics on an invalid option, as a test
// helper cannot go on without its client.
func (s *Server) Client(opts ...stewai.Option) *stewai.Client {
	base := []stewai.Option{
		stewai.WithAPIKey(s.APIKey),
		stewai.WithBaseURL(s.URL),
		stewai.WithHTTPClient(s.ts.Client()),
	}
	if s.clock != nil {
		base = append(base, config.WithClock(s.clock))
	}
	c, err := stewai.NewClient(append(base, opts...)...)
	if err != nil {
		panic("stewaitest: Server.Client: " + err.Error())
	}
	return c
}

// now is the server's time.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock.Now()
	}
	return time.Now()
}

// Request is one request the server received, as logged by Requests.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the path relative to the base URL as sent, still escaped,
	// such as "runs/" or "runs/01JRUN/steps/".
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Header holds the request's headers.
	Header http.Header
	// Body is the body of a JSON request (not of an upload).
	Body []byte
	// Status is the status answered; 0 while the request is being handled,
	// or when the connection was dropped or the client went away first.
	Status int
	// Fault reports whether an injected fault shaped the answer.
	Fault bool
}

// Requests returns the requests received so far, in the order they arrived.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Fault is a misbehaviour to inject, for the next Times requests that match
// Method and Path. The zero Fault matches every request and changes nothing.
//
// Status answers with that status instead of handling the request (with a
// JSON error body unless Body is set); Drop closes the connection without
// answering, before handling; DropAfterHandling handles the request (a run
// is created, a file stored) and then closes the connection without
// answering; Truncate handles the request and sends only the first half of
// the answer's body; Latency waits before handling, on the server's clock.
type Fault struct {
	// Method restricts the fault to requests with this method; "" matches any.
	Method string `json:"method,omitempty"`
	// Path restricts the fault to requests whose path, relative to the base
	// URL, starts with Path (for example "runs/" or "storage/upload/"); ""
	// matches any.
	Path string `json:"path,omitempty"`
	// Times is how many matching requests get the fault; 0 means all.
	Times int `json:"times,omitempty"`

	// Status is the status to answer with instead of handling the request.
	Status int `json:"status,omitempty"`
	// Header holds headers for the answer, such as Location.
	Header http.Header `json:"header,omitempty"`
	// RetryAfter, when positive, sends a Retry-After header asking for this
	// delay, in whole seconds (rounded up).
	RetryAfter Duration `json:"retry_after,omitempty"`
	// RetryAfterDate sends RetryAfter as an HTTP date that far after the
	// server's current time instead.
	RetryAfterDate bool `json:"retry_after_date,omitempty"`
	// ContentType is the Content-Type of Body; default application/json.
	ContentType string `json:"content_type,omitempty"`
	// Body replaces the answer's body when Status is set. An empty Body with
	// an error Status gives {"detail": "..."}; with a 2xx, an empty body.
	Body string `json:"body,omitempty"`

	// Drop closes the connection without answering, before handling.
	Drop bool `json:"drop,omitempty"`
	// DropAfterHandling handles the request, then closes the connection
	// without answering.
	DropAfterHandling bool `json:"drop_after_handling,omitempty"`
	// Truncate sends a Content-Length for the whole answer but only the
	// first half of its body, then closes the connection.
	Truncate bool `json:"truncate,omitempty"`
	// Latency delays the answer: the server reads the request (up to
	// 64 MiB of its body), then waits this long before handling it. On the
	// default (virtual) clock the wait takes no real time, and a latency
	// above a client's request timeout times that client out
	// deterministically.
	Latency Duration `json:"latency,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s", "300ms", or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string such as \"1.5s\" or a number of seconds")
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

type pendingFault struct {
	Fault
	left int // remaining uses, when Times > 0
}

// Inject adds a fault; faults apply in the order they were added, the first
// that matches a request winning.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: f.Times})
}

// takeFault returns the fault for a request, using one of its Times.
func (s *Server) takeFault(method, path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && !strings.EqualFold(f.Method, method)) || !strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Times > 0 {
			f.left--
			if f.left <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// ServeHTTP answers one API request; a Server is also an http.Handler, for
// mounting the fake in a server of your own.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tag := r.Header.Get(clock.CallHeader) // internal to the fake: not logged
	r.Header.Del(clock.CallHeader)
	rel, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/")
	if !ok {
		writeError(w, http.StatusNotFound, "Not found: the API is under /v1/.")
		return
	}
	fault, faulty := s.takeFault(r.Method, rel)
	// The request is logged on arrival, and its outcome filled in before the
	// client can see it: whatever the client does next is logged after it.
	logged := Request{Method: r.Method, Path: rel, Query: r.URL.Query(), Header: r.Header.Clone(), Fault: faulty}
	entry := s.arrive(logged)
	if s.accessLog != nil {
		defer s.logAccess(entry, r.URL.RequestURI(), time.Now())
	}
	if s.onRequest != nil {
		s.onRequest(logged)
	}

	if fault.Latency > 0 {
		if err := s.hold(r, tag, time.Duration(fault.Latency)); err != nil {
			return // the client gave up: no status
		}
	}
	if fault.Drop {
		dropConnection(w)
		return
	}
	if fault.RetryAfter > 0 {
		w.Header().Set("Retry-After", s.retryAfter(fault))
	}
	if fault.Status != 0 {
		s.answer(entry, fault.Status, nil)
		writeFault(w, fault)
		return
	}

	rec := httptest.NewRecorder()
	body := s.handle(rec, r, rel)
	switch {
	case fault.DropAfterHandling:
		s.answer(entry, 0, body)
		dropConnection(w)
	case fault.Truncate:
		s.answer(entry, rec.Code, body)
		writeTruncated(w, rec)
	default:
		s.answer(entry, rec.Code, body)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		for k, v := range fault.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// arrive logs a request and returns its place in the log.
func (s *Server) arrive(r Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r)
	return len(s.log) - 1
}

// logAccess writes the access-log line of the request logged at i.
func (s *Server) logAccess(i int, uri string, start time.Time) {
	s.mu.Lock()
	req := s.log[i]
	s.mu.Unlock()
	fmt.Fprintf(s.accessLog, "%s %s %d %s\n", req.Method, uri, req.Status, time.Since(start).Round(time.Microsecond))
}

// answer records the outcome of the request logged at i.
func (s *Server) answer(i, status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log[i].Status, s.log[i].Body = status, body
}

// retryAfter renders a fault's Retry-After value.
func (s *Server) retryAfter(f Fault) string {
	d := time.Duration(f.RetryAfter)
	if f.RetryAfterDate {
		return s.now().Add(d).UTC().Format(http.TimeFormat)
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// hold makes the server slow to answer r, once it has the whole request:
// the client's sending is over before the server holds it, so what the
// client sees does not depend on how fast its body went out.
func (s *Server) hold(r *http.Request, tag string, d time.Duration) error {
	if body, err := io.ReadAll(io.LimitReader(r.Body, maxHeldBody)); err == nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	}
	return s.sleep(r, tag, d)
}

// sleep waits d on the server's clock, or until the client goes away. On
// the virtual clock the client call that sent r (tagged by the pipeline of
// a client from Server.Client) counts as asleep meanwhile, so time can move
// on.
func (s *Server) sleep(r *http.Request, tag string, d time.Duration) error {
	if s.clock != nil {
		return s.clock.SleepFor(r.Context(), tag, d)
	}
	return clock.Real.Sleep(r.Context(), d)
}

// handle authenticates and routes a request, writing the answer to w. It
// returns the JSON body it read, for the request log.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rel string) []byte {
	got := r.Header.Get("Authorization")
	want := "Bearer " + s.APIKey
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		writeError(w, http.StatusUnauthorized, "Invalid or missing API key.")
		return nil
	}
	if !strings.HasSuffix(rel, "/") {
		writeError(w, http.StatusNotFound, "Not found: API paths end with a slash.")
		return nil
	}
	var allowed []string
	for _, rt := range routes {
		id, ok := rt.match(rel)
		if !ok {
			continue
		}
		if rt.method == r.Method {
			return rt.serve(s, w, r, id)
		}
		allowed = append(allowed, rt.method)
	}
	if allowed != nil {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method))
		return nil
	}
	writeError(w, http.StatusNotFound, "Not found.")
	return nil
}

// route is one endpoint of the fake: a method and a path pattern, relative
// to the base URL, whose "*" segment is an id passed to serve unescaped.
// serve returns the JSON body it read, if any, for the request log.
type route struct {
	method, pattern string
	serve           func(s *Server, w http.ResponseWriter, r *http.Request, id string) []byte
}

// routes are the endpoints the fake serves.
var routes = []route{
	{http.MethodPost, "runs/", (*Server).createRun},
	{http.MethodGet, "runs/", (*Server).listRuns},
	{http.MethodGet, "runs/*/", (*Server).getRun},
	{http.MethodGet, "runs/*/steps/", (*Server).getSteps},
	{http.MethodPost, "storage/upload/", (*Server).upload},
	{http.MethodGet, "storage/resolve/", (*Server).resolve},
	{http.MethodGet, "recipes/", (*Server).listRecipes},
	{http.MethodGet, "recipes/*/", (*Server).getRecipe},
	{http.MethodGet, "recipes/*/execution-contract/", (*Server).getContract},
	{http.MethodGet, "marketplace/search/", (*Server).searchMarket},
	{http.MethodGet, "marketplace/recipes/*/", (*Server).marketDetail},
}

// match reports whether rel (escaped, ending in "/") fits the pattern, and
// returns the unescaped segment that stands for its "*", if any.
func (rt route) match(rel string) (id string, ok bool) {
	got, want := strings.Split(rel, "/"), strings.Split(rt.pattern, "/")
	if len(got) != len(want) {
		return "", false
	}
	for i, seg := range want {
		switch {
		case seg == "*" && got[i] != "":
			id = pathSegment(got[i])
		case seg != got[i]:
			return "", false
		}
	}
	return id, true
}

func pathSegment(escaped string) string {
	if v, err := url.PathUnescape(escaped); err == nil {
		return v
	}
	return escaped
}

// writeError answers with a JSON error body, as the API does.
func writeError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeFault(w http.ResponseWriter, f Fault) {
	for k, v := range f.Header {
		w.Header()[k] = v
	}
	if f.Body == "" && f.Status >= 400 {
		writeError(w, f.Status, fmt.Sprintf("Injected fault: %d %s.", f.Status, http.StatusText(f.Status)))
		return
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream instead
	}
	conn.Close()
}

// writeTruncated sends rec's status and a Content-Length for its whole body,
// then half the body, then closes the connection.
func writeTruncated(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	body := rec.Body.Bytes()
	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	rec.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rec.Header().Set("Connection", "close")
	_ = rec.Header().Write(&head)
	head.WriteString("\r\n")
	head.Write(body[:len(body)/2])
	_, _ = buf.Write(head.Bytes())
	_ = buf.Flush()
}
