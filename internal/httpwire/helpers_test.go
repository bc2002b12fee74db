package httpwire

import (
	"bufio"
	"strings"
	"testing"
)

// guardian builds the raw request that http-desync-guardian's tests build
// from a YAML case: "METHOD URI VERSION", each header as "name: value", and
// the empty line, all CRLF-terminated. hdrs are name, value pairs.
func guardian(method, uri, version string, hdrs ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + uri + " " + version + "\r\n")
	for i := 0; i+1 < len(hdrs); i += 2 {
		b.WriteString(hdrs[i] + ": " + hdrs[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// post is guardian's usual request: POST /foo/bar HTTP/1.1 with hdrs.
func post(hdrs ...string) string { return guardian("POST", "/foo/bar", "HTTP/1.1", hdrs...) }

// readRequest reads the first head of raw as the front end does, and
// parses it.
func readRequest(t testing.TB, raw string) (*Request, error) {
	t.Helper()
	head, err := ReadHead(bufio.NewReader(strings.NewReader(raw)), nil, Limits{})
	if err != nil {
		t.Fatalf("ReadHead(%q): %v", raw, err)
	}
	return ParseRequest(head)
}

// browser is a typical request of a browser, about 400 bytes.
const browser = "GET /static/app.js?v=3 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=8c2f1e0a7b; theme=dark\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"\r\n"
