package consistency

import (
	"testing"
)

func answer(id string, status int, body string) Answer {
	return Answer{ID: id, Address: "127.0.0.2:1", Status: status, Body: []byte(body)}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name    string
		answers []Answer
		ignore  []string
		agree   bool
		summary string
	}{
		{"same data, other key order, spaces and number spelling",
			[]Answer{answer("a", 200, `{"n":1,"items":[1,2]}`), answer("b", 200, `{ "items": [1, 2.0], "n": 1e0 }`)},
			nil, true, "all 2 tasks agree"},
		{"a field differs",
			[]Answer{answer("a", 200, `{"count":3}`), answer("b", 200, `{"count":4}`), answer("c", 200, `{"count":3}`)},
			nil, false, "2 of 3 tasks agree; b differs: count: 4 vs 3"},
		{"an ignored field differs",
			[]Answer{answer("a", 200, `{"count":3,"at":"1"}`), answer("b", 200, `{"count":3,"at":"2"}`)},
			[]string{"at"}, true, "all 2 tasks agree"},
		{"the status differs",
			[]Answer{answer("a", 200, `ok`), answer("b", 503, `ok`), answer("c", 200, `ok`)},
			nil, false, "2 of 3 tasks agree; b differs: status 503 vs 200"},
		{"a request failed",
			[]Answer{answer("a", 200, `ok`), {ID: "b", Err: "connection refused"}},
			nil, false, "1 of 2 tasks agree; b failed: connection refused"},
		{"no majority",
			[]Answer{answer("a", 200, `x`), answer("b", 200, `y`)},
			nil, false, `the 2 tasks disagree, with no majority; b differs from a: body at byte 0: "y" vs "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ignore, err := ParseIgnore(tt.ignore)
			if err != nil {
				t.Fatal(err)
			}
			r := Compare("api", "/", tt.answers, ignore)
			if r.Agree != tt.agree || r.Summary() != tt.summary {
				t.Errorf("got agree %v, %q\nwant agree %v, %q", r.Agree, r.Summary(), tt.agree, tt.summary)
			}
		})
	}
}

func TestParseIgnore_RefusesEmptyParts(t *testing.T) {
	for _, f := range []string{"", "items.", ".at", "a..b"} {
		if _, err := ParseIgnore([]string{f}); err == nil {
			t.Errorf("ParseIgnore(%q): got nil error", f)
		}
	}
}
