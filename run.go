package stewai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Run is one execution of a recipe, as the server last described it.
type Run struct {
	// ID identifies the run; pass it to Get, Wait and Steps.
	ID string `json:"id"`
	// RecipeID is the recipe the run executes.
	RecipeID string `json:"recipe_id"`
	// Status is where the run is; see Status.IsTerminal.
	Status Status `json:"status"`
	// CreatedAt is when the run was created; zero when the server sent no
	// RFC 3339 time.
	CreatedAt time.Time `json:"created_at"`
	// DurationMS is how long the run has taken, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Raw is the run object exactly as received, including fields this
	// package does not name; decode it to reach them.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a run object and keeps it whole in Raw. id, recipe_id
// and status must be strings; created_at and duration_ms are read leniently
// (an unreadable value is left zero, and stays visible in Raw).
func (r *Run) UnmarshalJSON(b []byte) error { return r.decodeRaw(b, false) }

// decode decodes an answer's body, which the pipeline read for this run
// alone: Raw keeps it without a copy.
func (r *Run) decode(b []byte) error { return r.decodeRaw(b, true) }

// decodeRaw is UnmarshalJSON; owned says that b is the caller's to give away.
func (r *Run) decodeRaw(b []byte, owned bool) error {
	if isNull(b) {
		return nil
	}
	// A well-formed run decodes strictly, straight into r, as any struct
	// does; only one that the strict decoding refuses (a time that is not
	// RFC 3339, a duration sent as a string) is decoded again, leniently.
	was := *r
	*r = Run{}
	if err := json.Unmarshal(b, (*plainRun)(r)); err != nil {
		if err := r.decodeLenient(b); err != nil {
			*r = was
			return err
		}
	}
	raw := trimJSONSpace(b)
	if owned {
		raw = raw[:len(raw):len(raw)] // an append to Raw copies
	} else {
		raw = bytes.Clone(raw)
	}
	r.Raw = raw
	return nil
}

// plainRun is Run without its methods: encoding/json decodes it field by
// field.
type plainRun Run

// decodeLenient decodes the fields of a run, reading created_at and
// duration_ms leniently.
func (r *Run) decodeLenient(b []byte) error {
	var w struct {
		ID         string      `json:"id"`
		RecipeID   string      `json:"recipe_id"`
		Status     Status      `json:"status"`
		CreatedAt  lenientTime `json:"created_at"`
		DurationMS lenientInt  `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Run{ID: w.ID, RecipeID: w.RecipeID, Status: w.Status, CreatedAt: w.CreatedAt.t, DurationMS: int64(w.DurationMS)}
	return nil
}

// validate rejects an answer that is not a run, or whose id could not be
// used to reach it.
func (r *Run) validate() error {
	if r.ID == "" {
		return errors.New("run object has no id")
	}
	if !usableID(r.ID) {
		return fmt.Errorf("run object has an unusable id %q", r.ID)
	}
	return nil
}

// lenientTime reads an RFC 3339 string, and anything else as the zero time.
type lenientTime struct{ t time.Time }

func (l *lenientTime) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		// A string without escapes (as times are sent) is its bytes: no
		// need to decode it a second time. encoding/json has checked it.
		l.t, _ = time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		l.t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return nil
}

// lenientInt reads a number, or a string holding one, truncating a
// fraction; anything else, or a number out of range, is 0.
type lenientInt int64

func (l *lenientInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*l = lenientInt(n)
	} else if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1<<62 && f <= 1<<62 {
		*l = lenientInt(f)
	}
	return nil
}
