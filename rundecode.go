package stewai

import (
	"strings"
	"unicode/utf8"

	"github.com/stewai/stewai-go/internal/jsonobj"
)

// knownStatuses are the statuses this package names.
var knownStatuses = [...]Status{StatusQueued, StatusRunning, StatusDone, StatusFailed, StatusCancelled, StatusBlocked}

// runFields are the members of a run object that Run names.
var runFields = [...]string{"id", "recipe_id", "status", "created_at", "duration_ms"}

// decodeFast decodes a run object of the usual shape without reflection:
// its keys and its id, recipe_id and status need no unescaping, and those
// three are strings (or null). It reports false, having changed nothing,
// for anything else, which decode hands to encoding/json: the result is the
// same either way (FuzzRunUnmarshal compares them), only slower.
func (r *Run) decodeFast(b, raw []byte) bool {
	var v Run
	var created lenientTime
	var duration lenientInt
	usual := true
	valid := jsonobj.Members(b, func(key, value []byte) bool {
		k, plain := jsonobj.String(key)
		if !plain {
			usual = false
			return false
		}
		switch string(k) {
		case "id":
			usual = plainString(&v.ID, value)
		case "recipe_id":
			usual = plainString(&v.RecipeID, value)
		case "status":
			usual = plainStatus(&v.Status, value)
		case "created_at":
			_ = created.UnmarshalJSON(value)
		case "duration_ms":
			_ = duration.UnmarshalJSON(value)
		default:
			// encoding/json also matches keys case-insensitively.
			for _, f := range runFields {
				if strings.EqualFold(string(k), f) {
					usual = false
				}
			}
		}
		return usual
	})
	if !valid || !usual {
		return false
	}
	v.CreatedAt, v.DurationMS, v.Raw = created.t, int64(duration), raw
	*r = v
	return true
}

// plainString sets *dst from a JSON string that needs no unescaping, and
// leaves it for null, as encoding/json does. It reports false for any
// other value, or text that is not valid UTF-8 (which encoding/json
// would alter).
func plainString(dst *string, value []byte) bool {
	if string(value) == "null" {
		return true
	}
	text, ok := jsonobj.String(value)
	if !ok || !utf8.Valid(text) {
		return false
	}
	*dst = string(text)
	return true
}

// plainStatus is plainString for a status, without a copy for the
// statuses this package names.
func plainStatus(dst *Status, value []byte) bool {
	if text, ok := jsonobj.String(value); ok {
		for _, s := range knownStatuses {
			if string(text) == string(s) {
				*dst = s
				return true
			}
		}
	}
	return plainString((*string)(dst), value)
}
