package jsonobj

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestMembers(t *testing.T) {
	b := []byte(" {\"a\" : \"x\\\"}\" , \"b\\u0062\":[1,{\"c\":\"]}\"}], \"d\":{\"e\":[]},\"f\":-1.5e3,\"g\":null } ")
	var got []string
	ok := Members(b, func(k, v []byte) bool {
		got = append(got, string(k)+"="+string(v))
		return true
	})
	want := []string{`"a"="x\"}"`, `"b\u0062"=[1,{"c":"]}"}]`, `"d"={"e":[]}`, `"f"=-1.5e3`, `"g"=null`}
	if !ok || len(got) != len(want) {
		t.Fatalf("Members = %v, %q; want %q", ok, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("member %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestMembersStops(t *testing.T) {
	calls := 0
	Members([]byte(`{"a":1,"b":2}`), func(k, v []byte) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("fn called %d times after returning false", calls)
	}
}

func TestMembersRejects(t *testing.T) {
	for _, b := range []string{``, `[]`, `"x"`, `7`, `null`, `{"a":1`, `{"a":1}x`, `{'a':1}`, `{"a":01}`} {
		if Members([]byte(b), func(k, v []byte) bool { t.Errorf("%q: fn called", b); return true }) {
			t.Errorf("Members(%q) = true", b)
		}
	}
	if !Members([]byte(`{}`), func(k, v []byte) bool { t.Error("fn called for {}"); return true }) {
		t.Error("Members({}) = false")
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `""`: "", `"é"`: "é"} {
		if got, ok := String([]byte(in)); !ok || string(got) != want {
			t.Errorf("String(%s) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{`"a\nb"`, `"\u0041"`, `null`, `7`, `{}`, `"`, ``} {
		if _, ok := String([]byte(in)); ok {
			t.Errorf("String(%s) is plain", in)
		}
	}
}

// FuzzMembers checks the raw members against encoding/json's reading of
// the same object.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":"x","b":[1,{"c":"]"}],"d":{},"e":-0.5e-3,"f":true,"g":null}`, `{"a\"b":"\\"}`, ` { } `, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		wantOK := json.Unmarshal(b, &want) == nil && want != nil
		got := map[string]json.RawMessage{}
		ok := Members(b, func(k, v []byte) bool {
			var key string
			if err := json.Unmarshal(k, &key); err != nil {
				t.Fatalf("key %s is not a JSON string: %v", k, err)
			}
			got[key] = v
			return true
		})
		if ok != wantOK {
			t.Fatalf("Members = %v, encoding/json reads an object: %v", ok, wantOK)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("member %q = %s, encoding/json: %s", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, encoding/json: %d", len(got), len(want))
		}
	})
}
