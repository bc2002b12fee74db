package httpwire

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseRequest_Fields checks what the front end receives: the fields,
// cleaned and framed, safe to write back.
func TestParseRequest_Fields(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Request
	}{{
		name: "browser",
		raw:  browser,
		want: Request{Method: "GET", Target: "/static/app.js?v=3", ProtoMajor: 1, ProtoMinor: 1, Host: "www.example.com",
			Header: http.Header{
				"Host":            {"www.example.com"},
				"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
				"Accept":          {"*/*"},
				"Accept-Language": {"en-US,en;q=0.5"},
				"Accept-Encoding": {"gzip, deflate, br, zstd"},
				"Referer":         {"https://www.example.com/"},
				"Connection":      {"keep-alive"},
				"Cookie":          {"session=8c2f1e0a7b; theme=dark"},
				"Sec-Fetch-Dest":  {"script"},
				"Sec-Fetch-Mode":  {"no-cors"},
				"Sec-Fetch-Site":  {"same-origin"},
			}},
	}, {
		name: "names canonicalised, values trimmed, order kept per key",
		raw:  "POST /a HTTP/1.1\r\nhost: x\r\ncontent-type:  text/plain \t\r\nX-multi: 1\r\nx-other-thing: y\r\nX-MULTI: 2\r\nx_under: u\r\nX-Empty:\r\n\r\n",
		want: Request{Method: "POST", Target: "/a", ProtoMajor: 1, ProtoMinor: 1, Host: "x",
			Header: http.Header{"Host": {"x"}, "Content-Type": {"text/plain"}, "X-Multi": {"1", "2"},
				"X-Other-Thing": {"y"}, "X_under": {"u"}, "X-Empty": {""}}},
	}, {
		name: "obs-folds joined with one SP",
		raw:  "GET / HTTP/1.1\r\nX-Foo: a\r\n  b \r\n\tc\r\n \r\nX-Bar: d\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"X-Foo": {"a b c"}, "X-Bar": {"d"}},
			Verdict: Verdict{Ambiguous, "MultilineHeader"}},
	}, {
		name: "a fold of an empty value",
		raw:  "GET / HTTP/1.1\r\nX-Foo:\r\n b\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"X-Foo": {"b"}}, Verdict: Verdict{Ambiguous, "MultilineHeader"}},
	}, {
		name: "a fold before any header is dropped",
		raw:  "GET / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nX-Bar: d\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"X-Bar": {"d"}}, Verdict: Verdict{Ambiguous, "MultilineHeader"}},
	}, {
		name: "CR and NUL in values become SP",
		raw:  "GET / HTTP/1.1\r\nX-A: Parser error\r must not contain\r symbols.\r\nX-B: a\x00b\x00\r\nX-C: \xa0\x00\x85\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"X-A": {"Parser error  must not contain  symbols."}, "X-B": {"a b"}, "X-C": {"\xa0 \x85"}},
			Verdict: Verdict{Severe, "BadHeader"}},
	}, {
		name: "names that are not tokens are dropped, and look-alikes",
		raw: "POST / HTTP/1.1\r\nX Foo: 1\r\nX-Bar : 2\r\n\x01X: 3\r\nX\x00: 4\r\nTransfer_Encoding: chunked\r\n" +
			"Content-Length : 5\r\nX-Föö: 5\r\n: 6\r\nX-Kept: 7\r\n\r\n",
		want: Request{Method: "POST", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"X-Kept": {"7"}}, Verdict: Verdict{Severe, "BadHeader"}},
	}, {
		name: "chunked wins over Content-Length, which is removed",
		raw:  "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: Request{Method: "POST", Target: "/", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			ContentLength: -1, Chunked: true, Verdict: Verdict{Ambiguous, "BothTeClPresent"}},
	}, {
		name: "codings before chunked stay in the Header",
		raw:  "POST / HTTP/1.1\r\nTransfer-Encoding: GZIP;q=1, identity\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: Request{Method: "POST", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Transfer-Encoding": {"gzip, identity"}},
			ContentLength: -1, Chunked: true},
	}, {
		name: "chunked twice is chunked once",
		raw:  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: Request{Method: "POST", Target: "/", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			ContentLength: -1, Chunked: true, Verdict: Verdict{Severe, "MultipleTransferEncodingChunked"}},
	}, {
		name: "equal Content-Lengths collapse",
		raw:  "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length:  5 \r\n\r\n",
		want: Request{Method: "PUT", Target: "/", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			ContentLength: 5, Verdict: Verdict{Ambiguous, "DuplicateContentLength"}},
	}, {
		name: "the authority of an absolute-form target wins",
		raw:  "GET http://user:pw@api.example.com:8080/a?b HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
		want: Request{Method: "GET", Target: "http://user:pw@api.example.com:8080/a?b", ProtoMajor: 1, ProtoMinor: 1,
			Host: "api.example.com:8080", Header: http.Header{"Host": {"www.example.com"}}},
	}, {
		name: "CONNECT",
		raw:  "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
		want: Request{Method: "CONNECT", Target: "example.com:443", ProtoMajor: 1, ProtoMinor: 1,
			Host: "example.com:443", Header: http.Header{}},
	}, {
		name: "HTTP/1.0 closes",
		raw:  "GET / HTTP/1.0\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, Header: http.Header{}, Close: true},
	}, {
		name: "HTTP/1.0 keep-alive",
		raw:  "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, Header: http.Header{"Connection": {"Keep-Alive"}}},
	}, {
		name: "HTTP/1.0 with Transfer-Encoding closes",
		raw:  "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
		want: Request{Method: "POST", Target: "/", ProtoMajor: 1, Header: http.Header{"Connection": {"keep-alive"}},
			ContentLength: -1, Chunked: true, Close: true, Verdict: Verdict{Ambiguous, "UndefinedTransferEncodingSemantics"}},
	}, {
		name: "HTTP/1.1 close among options",
		raw:  "GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Connection": {"Upgrade, CLOSE"}}, Close: true},
	}, {
		name: "HTTP/1.2 is read as 1.1",
		raw:  "GET / HTTP/1.2\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			Verdict: Verdict{Acceptable, "NonCompliantVersion"}},
	}, {
		name: "control characters in the target are encoded, spaces kept",
		raw:  "GET /a\tb\rc\x00d\x7fe f HTTP/1.1\r\n\r\n",
		want: Request{Method: "GET", Target: "/a%09b%0Dc%00d%7Fe f", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			Verdict: Verdict{Severe, "BadUri"}},
	}, {
		name: "GET with a body",
		raw:  "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
		want: Request{Method: "GET", Target: "/", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
			ContentLength: 5, Verdict: Verdict{Ambiguous, "UndefinedContentLengthSemantics"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readRequest(t, tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, r); diff != "" {
				t.Errorf("ParseRequest (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseRequest_ManyHeaders: past the values allocated with the
// Request, more room is made.
func TestParseRequest_ManyHeaders(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	want := http.Header{}
	for i := range 40 {
		fmt.Fprintf(&b, "X-H%d: %d\r\nX-Same: %d\r\n", i, i, i)
		want[fmt.Sprintf("X-H%d", i)] = []string{strconv.Itoa(i)}
		want["X-Same"] = append(want["X-Same"], strconv.Itoa(i))
	}
	b.WriteString("\r\n")
	r, err := ParseRequest([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, r.Header); diff != "" {
		t.Errorf("Header (-want +got):\n%s", diff)
	}
}

// TestParseRequest_ErrorKeepsWhatWasRead: on an error the Request carries
// the method and target read and a Severe verdict, for the access log; it
// is nil when there is no request line to speak of.
func TestParseRequest_ErrorKeepsWhatWasRead(t *testing.T) {
	r, err := ParseRequest([]byte("POST /up HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v, want ErrMalformed", err)
	}
	if r == nil || r.Method != "POST" || r.Target != "/up" || r.Verdict != (Verdict{Severe, "MultipleContentLength"}) {
		t.Errorf("got %+v", r)
	}
	for _, head := range []string{"", "GET / HTTP/1.1", "GET\r\n\r\n", "\r\n"} {
		r, err := ParseRequest([]byte(head))
		if !errors.Is(err, ErrMalformed) || r != nil {
			t.Errorf("ParseRequest(%q) = %+v, %v; want nil, ErrMalformed", head, r, err)
		}
	}
}

// TestParseRequest_Malformed: heads that ReadHead would not return are
// refused too.
func TestParseRequest_Malformed(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n",                       // no empty line
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n", // more after it
	} {
		if _, err := ParseRequest([]byte(head)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRequest(%q): error %v, want ErrMalformed", head, err)
		}
	}
}

func TestClass_String(t *testing.T) {
	for c, want := range map[Class]string{Compliant: "Compliant", Acceptable: "Acceptable", Ambiguous: "Ambiguous", Severe: "Severe", 9: "Class(9)"} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", c, got, want)
		}
	}
}

// TestCanonicalKey: the same as net/http's, for common names in any case
// and for others.
func TestCanonicalKey(t *testing.T) {
	for _, name := range []string{"host", "HOST", "x-forwarded-for", "Content-Length", "ETag", "www-authenticate",
		"x-custom-thing", "X-Custom-Thing", "x_y", "a", "Sec-CH-UA-Platform", "access-control-allow-origin"} {
		if got, _ := canonicalKey(name); got != http.CanonicalHeaderKey(name) {
			t.Errorf("canonicalKey(%q) = %q, want %q", name, got, http.CanonicalHeaderKey(name))
		}
	}
	for k := range commonKeys { // the lower-case spellings
		if got, common := canonicalKey(k); got != http.CanonicalHeaderKey(k) || !common && k != got {
			t.Errorf("canonicalKey(%q) = %q, %v", k, got, common)
		}
	}
}
