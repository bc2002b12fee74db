package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// headOfSize is a request head of exactly n bytes (n = 18, or n >= 23),
// its lines at most 8 KiB.
func headOfSize(n int) string {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	for left := n - b.Len() - 2; left > 0; {
		line := min(left, 8<<10)
		if left-line > 0 && left-line < len("X: \r\n") {
			line -= len("X: \r\n") // leaves enough for one more line
		}
		b.WriteString("X: " + strings.Repeat("a", line-len("X: \r\n")) + "\r\n")
		left -= line
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestReadHead(t *testing.T) {
	line := func(n int) string { return "GET /" + strings.Repeat("a", n-len("GET / HTTP/1.1")) + " HTTP/1.1" }
	field := func(n int) string { return "X: " + strings.Repeat("v", n-len("X: ")) }
	tests := []struct {
		name    string
		in      string
		lim     Limits
		bufSize int    // of the bufio.Reader; 0 for the default
		head    string // the head returned, when no error
		err     error
		left    string // what stays in the reader after the head
	}{
		{name: "CRLF", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", left: "body"},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: a\n\nGET", head: "GET / HTTP/1.1\nHost: a\n\n", left: "GET"},
		{name: "no header", in: "GET / HTTP/1.1\r\n\r\n", head: "GET / HTTP/1.1\r\n\r\n"},
		{name: "empty lines skipped", in: "\r\n\n\r\n\nGET / HTTP/1.1\r\n\r\n", head: "GET / HTTP/1.1\r\n\r\n"},
		{name: "too many empty lines", in: "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", err: ErrMalformed},
		{name: "a start line of a CR", in: "\r\r\n\r\n", head: "\r\r\n\r\n"},
		{name: "a CR in a line", in: "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", head: "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"},
		{name: "closed before a byte", in: "", err: io.EOF},
		{name: "closed after empty lines", in: "\r\n\r\n", err: io.EOF},
		{name: "closed mid-line", in: "GET / HT", err: io.ErrUnexpectedEOF},
		{name: "closed after a CR", in: "\r", err: io.ErrUnexpectedEOF},
		{name: "closed mid-head", in: "GET / HTTP/1.1\r\nHost: a\r\n", err: io.ErrUnexpectedEOF},
		{name: "request line at the limit", in: line(16<<10) + "\r\n\r\n", head: line(16<<10) + "\r\n\r\n"},
		{name: "request line past the limit", in: line(16<<10+1) + "\r\n\r\n", err: ErrLineTooLong},
		{name: "request line past the limit, bare LF", in: line(16<<10+1) + "\n\n", err: ErrLineTooLong},
		{name: "request line past the limit, not ended", in: line(16<<10 + 1), err: ErrLineTooLong},
		{name: "header line at the limit", in: "GET / HTTP/1.1\r\n" + field(16<<10) + "\r\n\r\n", head: "GET / HTTP/1.1\r\n" + field(16<<10) + "\r\n\r\n"},
		{name: "header line past the limit", in: "GET / HTTP/1.1\r\n" + field(16<<10+1) + "\r\n\r\n", err: ErrHeaderTooLarge},
		{
			name: "folded header at the limit", in: "GET / HTTP/1.1\r\n" + field(8<<10) + "\r\n " + strings.Repeat("w", 8<<10-3) + "\r\n\r\n",
			head: "GET / HTTP/1.1\r\n" + field(8<<10) + "\r\n " + strings.Repeat("w", 8<<10-3) + "\r\n\r\n",
		},
		{name: "folded header past the limit", in: "GET / HTTP/1.1\r\n" + field(8<<10) + "\r\n " + strings.Repeat("w", 8<<10-2) + "\r\n\r\n", err: ErrHeaderTooLarge},
		{name: "a fold first", in: "GET / HTTP/1.1\r\n " + strings.Repeat("w", 16<<10-1) + "\r\n\r\n", head: "GET / HTTP/1.1\r\n " + strings.Repeat("w", 16<<10-1) + "\r\n\r\n"},
		{name: "head at the limit", in: headOfSize(64<<10) + "next", head: headOfSize(64 << 10), left: "next"},
		{name: "head past the limit", in: headOfSize(64<<10 + 1), err: ErrHeaderTooLarge},
		{name: "small limits", in: "GET / HTTP/1.1\r\nA: b\r\n\r\n", lim: Limits{MaxLine: 14, MaxHead: 24}, head: "GET / HTTP/1.1\r\nA: b\r\n\r\n"},
		{name: "small limits, line", in: "GET / HTTP/1.1\r\nA: b\r\n\r\n", lim: Limits{MaxLine: 13, MaxHead: 24}, err: ErrLineTooLong},
		{name: "small limits, head", in: "GET / HTTP/1.1\r\nA: b\r\n\r\n", lim: Limits{MaxLine: 14, MaxHead: 23}, err: ErrHeaderTooLarge},
		{name: "small limits, header", in: "GET / HTTP/1.1\r\nA: bcdefghijklm\r\n\r\n", lim: Limits{MaxLine: 14}, err: ErrHeaderTooLarge},
		{name: "small buffer", in: "GET /" + strings.Repeat("p", 100) + " HTTP/1.1\r\nHost: " + strings.Repeat("h", 50) + "\r\n\r\nrest", bufSize: 16,
			head: "GET /" + strings.Repeat("p", 100) + " HTTP/1.1\r\nHost: " + strings.Repeat("h", 50) + "\r\n\r\n", left: "rest"},
		{name: "small buffer, CR at its end", in: "GET / HTTP/1.1\r\nHost: aaa\r\n\r\n", bufSize: 16, lim: Limits{MaxLine: 14}, head: "GET / HTTP/1.1\r\nHost: aaa\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			if tt.bufSize > 0 {
				br = bufio.NewReaderSize(strings.NewReader(tt.in), tt.bufSize)
			}
			head, err := ReadHead(br, nil, tt.lim)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if string(head) != tt.head {
				t.Errorf("head %.80q (%d bytes), want %.80q (%d bytes)", head, len(head), tt.head, len(tt.head))
			}
			if left, _ := io.ReadAll(br); string(left) != tt.left {
				t.Errorf("left %q, want %q", left, tt.left)
			}
		})
	}
}

// TestReadHead_Pipelined reads heads one after the other off one stream.
func TestReadHead_Pipelined(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\nA: b\n\n\r\nGET /3 HTTP/1.1\r\n\r\n"))
	var buf []byte
	for _, want := range []string{"GET /1 HTTP/1.1\r\n\r\n", "GET /2 HTTP/1.1\nA: b\n\n", "GET /3 HTTP/1.1\r\n\r\n"} {
		var err error
		if buf, err = ReadHead(br, buf, Limits{}); err != nil || string(buf) != want {
			t.Fatalf("ReadHead = %q, %v; want %q", buf, err, want)
		}
	}
	if _, err := ReadHead(br, buf, Limits{}); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadHead_Bounded: a peer sending 1 MB of header makes ReadHead fail
// having read no more than the limits and one buffer.
func TestReadHead_Bounded(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 1<<20),                                      // one huge header
		"GET / HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 1000),       // many headers
		"GET / HTTP/1.1\r\nX: a\r\n" + strings.Repeat(" "+strings.Repeat("a", 100)+"\r\n", 10000), // endless folds
		"GET /" + strings.Repeat("a", 1<<20),                                                      // a huge request line
	} {
		c := &countingReader{r: strings.NewReader(in)}
		br := bufio.NewReader(c)
		lim := Limits{}.withDefaults()
		head, err := ReadHead(br, nil, Limits{})
		if !errors.Is(err, ErrHeaderTooLarge) && !errors.Is(err, ErrLineTooLong) {
			t.Errorf("error %v, want a limit", err)
		}
		if max := lim.MaxHead + lim.MaxLine + br.Size(); c.n > max || len(head) > lim.MaxHead+br.Size() {
			t.Errorf("read %d bytes, held %d; want at most %d", c.n, len(head), max)
		}
	}
}

// TestReadHead_ReadError: a read error (a timeout) is returned as it is.
func TestReadHead_ReadError(t *testing.T) {
	br := bufio.NewReader(io.MultiReader(strings.NewReader("GET / HTTP/1.1\r\n"), iotest.ErrReader(iotest.ErrTimeout)))
	if _, err := ReadHead(br, nil, Limits{}); err != iotest.ErrTimeout {
		t.Errorf("error %v, want the reader's", err)
	}
	br = bufio.NewReader(iotest.ErrReader(iotest.ErrTimeout))
	if _, err := ReadHead(br, nil, Limits{}); err != iotest.ErrTimeout {
		t.Errorf("error %v, want the reader's", err)
	}
}

// TestReadHead_OneByteAtATime: a peer that sends a byte per packet gets the
// same head.
func TestReadHead_OneByteAtATime(t *testing.T) {
	br := bufio.NewReader(iotest.OneByteReader(strings.NewReader(browser + "x")))
	head, err := ReadHead(br, nil, Limits{})
	if err != nil || string(head) != browser {
		t.Fatalf("ReadHead = %q, %v", head, err)
	}
}

// TestReadHead_NoAlloc: with a buffer of the capacity, ReadHead allocates
// nothing.
func TestReadHead_NoAlloc(t *testing.T) {
	in := bytes.NewReader([]byte("\r\n" + browser))
	br := bufio.NewReader(in)
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		in.Seek(0, io.SeekStart)
		br.Reset(in)
		var err error
		if buf, err = ReadHead(br, buf, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per ReadHead, want 0", allocs)
	}
}

func TestHeadOfSize(t *testing.T) {
	for _, n := range []int{18, 23, 100, 8 << 10, 8<<10 + 19, 64 << 10, 64<<10 + 1} {
		if h := headOfSize(n); len(h) != n {
			t.Errorf("headOfSize(%d) has %d bytes", n, len(h))
		}
	}
}
