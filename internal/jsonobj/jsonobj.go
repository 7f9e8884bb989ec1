// Package jsonobj walks the members of a JSON object without decoding it:
// the fast path of decoding answers whose few fields a hand-written decoder
// reads faster than reflection does.
package jsonobj

import (
	"bytes"
	"encoding/json"
)

// Members calls fn with the raw key (quotes included, escapes kept) and the
// raw value of each member of the JSON object b, in order, until fn returns
// false. It reports false, without calling fn, when b is not valid JSON or
// not an object.
func Members(b []byte, fn func(key, value []byte) bool) bool {
	if !json.Valid(b) {
		return false
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		keyEnd := stringEnd(b, i)
		k := skipSpace(b, keyEnd) + 1 // past ':'
		k = skipSpace(b, k)
		valueEnd := valueEnd(b, k)
		if !fn(b[i:keyEnd], b[k:valueEnd]) {
			return true
		}
		i = skipSpace(b, valueEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// String returns the text of the raw JSON string s, when it needs no
// unescaping: it has no backslash. ok is false otherwise, and for a value
// that is not a string.
func String(s []byte) (text []byte, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return nil, false
	}
	text = s[1 : len(s)-1]
	if bytes.IndexByte(text, '\\') >= 0 {
		return nil, false
	}
	return text, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for ; i < len(b); i++ { // a number or a literal
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return len(b)
}
