package spec

import (
	"testing"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in      string
		pass    []int
		fail    []int
		wantErr string
	}{
		{in: "200", pass: []int{200}, fail: []int{199, 201, 404}},
		{in: "200,202", pass: []int{200, 202}, fail: []int{201}},
		{in: "200-299", pass: []int{200, 250, 299}, fail: []int{199, 300}},
		{in: " 200 , 302-304 ", pass: []int{200, 302, 303, 304}, fail: []int{301, 305}},
		{in: "499", pass: []int{499}},
		{in: "", wantErr: "empty matcher: write codes like 200, 200,202 or 200-299"},
		{in: " ", wantErr: "empty matcher: write codes like 200, 200,202 or 200-299"},
		{in: "abc", wantErr: `matcher "abc": "abc" is not an HTTP status code: write codes like 200, 200,202 or 200-299`},
		{in: "200,", wantErr: `matcher "200,": "" is not an HTTP status code: write codes like 200, 200,202 or 200-299`},
		{in: "200-", wantErr: `matcher "200-": "" is not an HTTP status code: write codes like 200, 200,202 or 200-299`},
		{in: "199", wantErr: `matcher "199": code 199 is outside 200-499: a check can only pass on 2xx, 3xx or 4xx`},
		{in: "200,600", wantErr: `matcher "200,600": code 600 is outside 200-499: a check can only pass on 2xx, 3xx or 4xx`},
		{in: "300-200", wantErr: `matcher "300-200": range 300-200 ends before it starts: write the lower code first`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMatcher(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Fatalf("got error %q, want %q", gotErr, tt.wantErr)
			}
			if err != nil {
				return
			}
			if m.String() != tt.in {
				t.Errorf("got String() %q, want %q", m.String(), tt.in)
			}
			for _, code := range tt.pass {
				if !match(m, code) {
					t.Errorf("Match(%d): got false, want true", code)
				}
			}
			for _, code := range tt.fail {
				if match(m, code) {
					t.Errorf("Match(%d): got true, want false", code)
				}
			}
		})
	}
}

// match reports whether code passes m, as the load balancer judges it.
func match(m Matcher, code int) bool {
	for _, r := range m.Ranges() {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}
