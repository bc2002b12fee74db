package httpwire

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		head string
		want *Response // nil: ErrMalformed
	}{{
		name: "Content-Length",
		head: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK",
			Header: http.Header{"Content-Type": {"text/plain"}}, ContentLength: 5},
	}, {
		name: "chunked, Content-Length ignored",
		head: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 201, Reason: "Created", Header: http.Header{},
			ContentLength: -1, Chunked: true},
	}, {
		name: "gzip then chunked",
		head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK",
			Header: http.Header{"Transfer-Encoding": {"gzip"}}, ContentLength: -1, Chunked: true},
	}, {
		name: "gzip alone: until close",
		head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK",
			Header: http.Header{"Transfer-Encoding": {"gzip"}}, ContentLength: -1},
	}, {
		name: "no framing: until close",
		head: "HTTP/1.1 200 OK\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{}, ContentLength: -1},
	}, {
		name: "no reason phrase",
		head: "HTTP/1.1 204\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 204, Header: http.Header{}, ContentLength: -1},
	}, {
		name: "empty reason phrase",
		head: "HTTP/1.1 404 \r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 404, Header: http.Header{}, ContentLength: -1},
	}, {
		name: "reason phrase with tab and obs-text",
		head: "HTTP/1.1 200 Très\tbien\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "Très\tbien", Header: http.Header{}, ContentLength: -1},
	}, {
		name: "HTTP/1.0 closes",
		head: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		want: &Response{ProtoMajor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{}, Close: true},
	}, {
		name: "HTTP/1.0 keep-alive",
		head: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		want: &Response{ProtoMajor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{"Connection": {"keep-alive"}}},
	}, {
		name: "Connection: close",
		head: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{"Connection": {"close"}}, Close: true},
	}, {
		name: "bare LF, space before a colon, folds",
		head: "HTTP/1.1 200 OK\nSet-Cookie: a=1\nset-cookie : b=2\nX-Long: a\n  b\n\tc\nContent-Length: 2\n\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK",
			Header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-Long": {"a b c"}}, ContentLength: 2},
	}, {
		name: "equal Content-Lengths",
		head: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{}, ContentLength: 2},
	}, {
		name: "HTTP/1.2 read as 1.1",
		head: "HTTP/1.2 200 OK\r\n\r\n",
		want: &Response{ProtoMajor: 1, ProtoMinor: 1, StatusCode: 200, Reason: "OK", Header: http.Header{}, ContentLength: -1},
	},
		{name: "HTTP/2", head: "HTTP/2 200 OK\r\n\r\n"},
		{name: "HTTP/2.0", head: "HTTP/2.0 200 OK\r\n\r\n"},
		{name: "lower case", head: "http/1.1 200 OK\r\n\r\n"},
		{name: "two digits", head: "HTTP/1.1 20 OK\r\n\r\n"},
		{name: "four digits", head: "HTTP/1.1 2000 OK\r\n\r\n"},
		{name: "status below 100", head: "HTTP/1.1 099 OK\r\n\r\n"},
		{name: "status with a sign", head: "HTTP/1.1 +20 OK\r\n\r\n"},
		{name: "two spaces", head: "HTTP/1.1  200 OK\r\n\r\n"},
		{name: "tab", head: "HTTP/1.1\t200 OK\r\n\r\n"},
		{name: "CR in the reason", head: "HTTP/1.1 200 O\rK\r\n\r\n"},
		{name: "NUL in the reason", head: "HTTP/1.1 200 O\x00K\r\n\r\n"},
		{name: "no colon", head: "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n"},
		{name: "name not a token", head: "HTTP/1.1 200 OK\r\nX(y): 5\r\n\r\n"},
		{name: "empty name", head: "HTTP/1.1 200 OK\r\n: 5\r\n\r\n"},
		{name: "fold first", head: "HTTP/1.1 200 OK\r\n Content-Length: 5\r\n\r\n"},
		{name: "CR in a value", head: "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"},
		{name: "NUL in a fold", head: "HTTP/1.1 200 OK\r\nX: a\r\n b\x00\r\n\r\n"},
		{name: "Content-Lengths differ", head: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"},
		{name: "Content-Length list", head: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n"},
		{name: "Content-Length sign", head: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n"},
		{name: "Content-Length empty", head: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
		{name: "Content-Length overflow", head: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n"},
		{name: "unknown coding", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"},
		{name: "chunked not last", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
		{name: "chunked twice", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{name: "empty Transfer-Encoding", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n"},
		{name: "Transfer-Encoding in HTTP/1.0", head: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{name: "no empty line", head: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"},
		{name: "bytes after", head: "HTTP/1.1 200 OK\r\n\r\nx"},
		{name: "nothing", head: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tt.head))
			if tt.want == nil {
				if !errors.Is(err, ErrMalformed) || got != nil {
					t.Fatalf("got %+v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseResponse (-want +got):\n%s", diff)
			}
		})
	}
}
