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
// A client from Server.Client is the SDK's client as in production (its own
// transport with its connection cap, the pollers its waits share, any
// option and middleware), on the server's virtual clock, so tests built on
// it never wait for real. The clock follows the model of testing/synctest: time stands still while any
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
// still, so a poll of theirs for a run that only time moves is answered
// 409 with a detail that says to use Server.Client or WithRealTime: their
// waits fail at once rather than sit out their timeout. Serve such clients
// WithRealTime, as cmd/stewai-fake does. Code of your own between calls,
// such as a loop body over Runs.Watch, does not hold time still.
//
// # Determinism
//
// On the virtual clock, exactly this repeats from run to run of a test:
// the clock starts at the same instant (2026-01-01T00:00:00Z); the jitter of
// poll and retry schedules comes from a source seeded with WithSeed (1 by
// default); ids of runs, recipes and files come from the virtual time and
// a source seeded the same way. So a test whose own goroutines do the same
// things in the same order sends the same requests, with the same ids, at
// the same virtual times, and gets the same answers. What the test's own
// concurrency leaves to the scheduler (which of two goroutines creates its
// run first, and so which id each gets) is not made deterministic: the set
// of requests and their virtual times then repeat, their interleaving may
// not. WithRealTime servers use wall-clock time and random ids.
package stewaitest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
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
	seed      int64
	idMu      sync.Mutex
	entropy   io.Reader // of new ids on the virtual clock: seeded
	onRequest func(Request)

	mu            sync.Mutex
	recipes       *recipeBook
	market        []MarketplaceEntry // nil: the marketplace is not enabled
	selfService   bool
	strictFiles   bool
	strictRecipes bool
	maxStored     int64 // bytes of upload content kept, at most
	accessLog     io.Writer
	runs          map[string]*run
	order         []string // run ids in creation order
	idem          map[string]idempotent
	files         *fileStore
	faults        []*pendingFault
	log           requestLog
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

// WithStrictRecipes makes the fake answer 404 {"detail": "Recipe not
// found."} to a run of a recipe it does not know, and record nothing (no
// run, no recipe). It knows the recipes given to WithRecipe or Script (or
// a scripts file), created through self-service (see WithSelfService) and
// not deleted since, and those of WithMarketplace. By default any recipe
// id runs the default recipe, as the StewAI docs' made-up ids need; strict
// recipes catch a mistyped id in a test.
func WithStrictRecipes() Option {
	return func(s *Server) { s.strictRecipes = true }
}

// WithSelfService enables recipe self-service, which the real service
// disables by default (every self-service path then answers 404). The
// bodies are not documented by StewAI; the fake accepts these, as JSON, and
// answers 400 naming the problem with anything else (bad JSON, a missing
// or empty name, an unknown field, a bad step):
//
//   - POST recipes/ creates a recipe: {"name": "Weekly digest", "steps":
//     [{"id": "step_1", "title": "Summarize", "kind": "llm_simple",
//     "depends_on": []}, ...]}. name is required; steps are optional (without
//     them runs have the default recipe's steps), each with a unique id,
//     depends_on naming other steps. Answer: 201 {"id": "<new ULID>",
//     "name": "Weekly digest"}. A repeated Idempotency-Key answers the
//     first recipe again.
//   - GET recipes/{id}/ answers {"id", "name"}.
//   - PATCH recipes/{id}/ changes name and/or steps (same fields, both
//     optional); answer: 200 and the recipe.
//   - DELETE recipes/{id}/ deletes it; answer: 204. Runs already created
//     go on.
//
// Created recipes are listed by GET recipes/ after the scripted ones, have
// an execution contract from their steps, and run like the default
// recipe (done 300 ms after creation), each step with a text output.
// Update and delete work on scripted recipes too. An unknown id is 404.
func WithSelfService() Option {
	return func(s *Server) { s.selfService = true }
}

// WithMarketplace enables the marketplace with these published recipes.
// Without it, as on deployments that do not enable it, every marketplace
// path answers 404; WithMarketplace() with no entries enables an empty
// one. Runs of a marketplace recipe follow the script given
// to WithRecipe for its ULID, if any.
func WithMarketplace(entries ...MarketplaceEntry) Option {
	return func(s *Server) {
		s.market = append(s.market, entries...)
		if s.market == nil {
			s.market = []MarketplaceEntry{} // enabled, and empty
		}
	}
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

// WithSeed sets the seed of the virtual clock's jitter (the default is 1).
// With one seed, a test whose own goroutines do the same things sends the
// same requests at the same virtual times on every run; another seed gives
// other poll schedules, as real jitter would.
func WithSeed(n int64) Option {
	return func(s *Server) { s.seed = n }
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
		seed:    1,
		recipes: &recipeBook{byID: map[string]*recipeScript{}},
		runs:    map[string]*run{},
		idem:    map[string]idempotent{},
		files:   newFileStore(),

		maxStored: DefaultMaxStoredBytes,
	}
	s.ts = httptest.NewUnstartedServer(s)
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	if !s.realTime {
		s.clock = clock.NewVirtual(virtualEpoch, s.seed)
	}
	// URL is set before the server starts: handlers read it (page links),
	// and the race detector sees no order between this goroutine and theirs.
	s.URL = "http://" + s.ts.Listener.Addr().String() + "/v1"
	s.ts.Start()
	return s
}

// newID returns a new ULID for a run, a recipe or a file. On the virtual
// clock it comes from the clock's time and a seeded source, so that a test
// sees the same ids on every run.
func (s *Server) newID() string {
	if s.clock == nil {
		return ulid.Make().String()
	}
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.entropy == nil {
		s.entropy = ulid.Monotonic(rand.New(rand.NewSource(s.seed)), 0)
	}
	return ulid.MustNew(ulid.Timestamp(s.clock.Now()), s.entropy).String()
}

// virtualEpoch is where the virtual clock starts, the same on every run so
// that times in answers repeat too.
var virtualEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Close shuts the server down and waits for requests in flight to end.
func (s *Server) Close() { s.ts.Close() }

// Client returns a client for this server with its key, on the server's
// clock, with opts applied after. It panics on an invalid option, as a test
// helper cannot go on without its client.
func (s *Server) Client(opts ...stewai.Option) *stewai.Client {
	base := []stewai.Option{
		stewai.WithAPIKey(s.APIKey),
		stewai.WithBaseURL(s.URL),
	}
	if s.clock != nil {
		// The client is the SDK's as in production (its own transport, its
		// connection cap, its pollers), on the server's clock; beneath its
		// transport, each request is tagged with its call, so that the
		// server can hold it as asleep (Latency faults).
		base = append(base, config.WithClock(s.clock), config.WithBeneath(s.clock.Tagging))
	}
	c, err := stewai.NewClient(append(base, opts...)...)
	if err != nil {
		panic("stewaitest: Server.Client: " + err.Error())
	}
	return c
}

// Now returns the server's time: its virtual clock's, which starts at the
// same instant on every run and moves only when every call of its clients
// is asleep, or the wall clock's with WithRealTime. Tests use it to check
// when something happened.
func (s *Server) Now() time.Time { return s.now() }

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
	// Time is when the request arrived, on the server's clock (virtual,
	// unless WithRealTime): on the virtual clock the same test sees the
	// same times on every run.
	Time time.Time
}

// MaxLoggedRequests is how many requests the server's log keeps: Requests
// returns the last MaxLoggedRequests, so that a long-running fake (such as
// cmd/stewai-fake) does not grow without end.
const MaxLoggedRequests = 10_000

// Requests returns the requests received so far, in the order they
// arrived: the last MaxLoggedRequests of them, older ones being dropped.
// A test that sends more should look at the log as it goes, or count
// with OnRequest.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.all()
}

// requestLog keeps the last MaxLoggedRequests requests in a ring.
type requestLog struct {
	ring  []Request // request n is at n % MaxLoggedRequests
	total int       // requests logged so far, dropped ones included
}

// add logs r and returns its number.
func (l *requestLog) add(r Request) int {
	n := l.total
	l.total++
	if len(l.ring) < MaxLoggedRequests {
		l.ring = append(l.ring, r)
	} else {
		l.ring[n%MaxLoggedRequests] = r
	}
	return n
}

// at returns request n, or nil once it has been dropped.
func (l *requestLog) at(n int) *Request {
	if n < l.total-len(l.ring) || n >= l.total {
		return nil
	}
	return &l.ring[n%MaxLoggedRequests]
}

// all returns the kept requests, oldest first.
func (l *requestLog) all() []Request {
	out := make([]Request, 0, len(l.ring))
	start := 0
	if len(l.ring) == MaxLoggedRequests {
		start = l.total % MaxLoggedRequests
	}
	out = append(out, l.ring[start:]...)
	return append(out, l.ring[:start]...)
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
	RetryAfter time.Duration `json:"-"`
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
	Latency time.Duration `json:"-"`
}

// faultJSON is the JSON form of a Fault: its durations are strings such
// as "1.5s" (or numbers of seconds), which time.Duration cannot read.
type faultJSON struct {
	*faultFields
	RetryAfter duration `json:"retry_after,omitempty"`
	Latency    duration `json:"latency,omitempty"`
}

// faultFields is Fault without its methods, so that faultJSON does not
// recurse into them.
type faultFields Fault

// MarshalJSON writes the fault in the scripts format of Scripts, its
// durations as strings such as "1.5s".
func (f Fault) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultJSON{faultFields: (*faultFields)(&f), RetryAfter: duration(f.RetryAfter), Latency: duration(f.Latency)})
}

// UnmarshalJSON reads a fault in the scripts format of Scripts: durations
// are strings such as "250ms" or numbers of seconds, and unknown fields
// are errors.
func (f *Fault) UnmarshalJSON(b []byte) error {
	if f == nil {
		return fmt.Errorf("stewaitest: UnmarshalJSON into a nil *Fault")
	}
	var v Fault
	w := faultJSON{faultFields: (*faultFields)(&v)}
	if err := strictDecode(b, &w); err != nil {
		return err
	}
	v.RetryAfter, v.Latency = time.Duration(w.RetryAfter), time.Duration(w.Latency)
	*f = v
	return nil
}

// duration is a time.Duration that reads and writes JSON as "1.5s"; it
// reads a number as seconds.
type duration time.Duration

// MarshalJSON writes the duration as a Go duration string, such as "1.5s".
func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s", "300ms", or a number of seconds.
func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string such as \"1.5s\" or a number of seconds")
	}
	*d = duration(secs * float64(time.Second))
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
	tag, tagged := clock.Tagged(r) // internal to the fake: not logged
	r.Header.Del(clock.CallHeader)
	if s.clock != nil && !tagged {
		r = r.WithContext(context.WithValue(r.Context(), offClockKey{}, true))
	}
	rel, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/")
	if !ok {
		writeError(w, http.StatusNotFound, "Not found: the API is under /v1/.")
		return
	}
	fault, faulty := s.takeFault(r.Method, rel)
	// The request is logged on arrival, and its outcome filled in before the
	// client can see it: whatever the client does next is logged after it.
	logged := Request{Method: r.Method, Path: rel, Query: r.URL.Query(), Header: r.Header.Clone(), Fault: faulty, Time: s.now()}
	entry := s.arrive(logged)
	status := 0 // as answered, for the access log
	if s.accessLog != nil {
		defer func(start time.Time) {
			fmt.Fprintf(s.accessLog, "%s %s %d %s\n", r.Method, r.URL.RequestURI(), status, time.Since(start).Round(time.Microsecond))
		}(time.Now())
	}
	answer := func(code int, body []byte) {
		status = code
		s.answer(entry, code, body)
	}
	if s.onRequest != nil {
		s.onRequest(logged)
	}
	s.serve(w, r, rel, tag, fault, answer)
}

// serve answers a logged request, through its fault if it has one; answer
// records the status (0: none) and the JSON body read.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rel, tag string, fault Fault, answer func(int, []byte)) {
	if fault.Latency > 0 {
		if err := s.hold(r, tag, fault.Latency); err != nil {
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
		answer(fault.Status, nil)
		writeFault(w, fault)
		return
	}
	rec := httptest.NewRecorder()
	body := s.handle(rec, r, rel)
	switch {
	case fault.DropAfterHandling:
		answer(0, body)
		dropConnection(w)
	case fault.Truncate:
		answer(rec.Code, body)
		writeTruncated(w, rec)
	default:
		answer(rec.Code, body)
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

// arrive logs a request and returns its number in the log.
func (s *Server) arrive(r Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.add(r)
}

// answer records the outcome of request n, unless the log has dropped it.
func (s *Server) answer(n, status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req := s.log.at(n); req != nil {
		req.Status, req.Body = status, body
	}
}

// retryAfter renders a fault's Retry-After value.
func (s *Server) retryAfter(f Fault) string {
	d := f.RetryAfter
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
	{http.MethodPost, "recipes/", (*Server).createRecipe},
	{http.MethodGet, "recipes/*/", (*Server).getRecipe},
	{http.MethodPatch, "recipes/*/", (*Server).updateRecipe},
	{http.MethodDelete, "recipes/*/", (*Server).deleteRecipe},
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
