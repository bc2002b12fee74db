package httpwire

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkParseRequest parses a typical browser request of about 400
// bytes: the work of every request's head.
func BenchmarkParseRequest(b *testing.B) {
	head := []byte(browser)
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(head); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRequest_LowerCase: the same request with its header names
// in lower case, as some clients send them: interned, no more allocations.
func BenchmarkParseRequest_LowerCase(b *testing.B) {
	lines := strings.Split(browser, "\r\n")
	for i := 1; i < len(lines); i++ {
		name, value, _ := strings.Cut(lines[i], ":")
		if value != "" {
			lines[i] = strings.ToLower(name) + ":" + value
		}
	}
	head := []byte(strings.Join(lines, "\r\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(head); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	head := []byte("HTTP/1.1 200 OK\r\n" +
		"Date: Mon, 27 Jul 2026 12:28:53 GMT\r\n" +
		"Server: nginx\r\n" +
		"Content-Type: application/javascript\r\n" +
		"Content-Length: 48213\r\n" +
		"Last-Modified: Wed, 22 Jul 2026 19:15:56 GMT\r\n" +
		"Etag: \"6e1b2c-bc55\"\r\n" +
		"Cache-Control: public, max-age=31536000\r\n" +
		"Vary: Accept-Encoding\r\n" +
		"Connection: keep-alive\r\n" +
		"\r\n")
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(head); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadHead reads the browser request off a reader, reusing the
// buffer as the front end does.
func BenchmarkReadHead(b *testing.B) {
	in := strings.NewReader(browser)
	br := bufio.NewReader(in)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(browser)))
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(browser)
		br.Reset(in)
		var err error
		if buf, err = ReadHead(br, buf, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedReader decodes a 64 KiB body in 4 KiB chunks.
func BenchmarkChunkedReader(b *testing.B) {
	chunk := strings.Repeat("x", 4096)
	body := strings.Repeat("1000\r\n"+chunk+"\r\n", 16) + "0\r\n\r\n"
	in := strings.NewReader(body)
	br := bufio.NewReader(in)
	buf := make([]byte, 32<<10)
	b.SetBytes(16 * 4096)
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(body)
		br.Reset(in)
		cr := NewChunkedReader(br, Limits{})
		for {
			_, err := cr.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkNetHTTPReadRequest is net/http's parser on the same request, for
// scale: it classifies nothing.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	in := strings.NewReader(browser)
	br := bufio.NewReader(in)
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(browser)
		br.Reset(in)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}
