package httpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const next = "GET /next HTTP/1.1\r\n\r\n" // what follows a body on the connection

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name string
		in   string // the body; next is appended
		lim  Limits
		body string // decoded, when no error
		err  error
	}{
		{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{name: "chunks", in: "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", body: "hello world!"},
		{name: "empty body", in: "0\r\n\r\n", body: ""},
		{name: "hex sizes", in: "a\r\n0123456789\r\nA\r\n0123456789\r\n00010\r\n0123456789abcdef\r\n0000\r\n\r\n", body: "01234567890123456789" + "0123456789abcdef"},
		{name: "extensions", in: "5;a=b;c\r\nhello\r\n5; x = \"q \\\" \\\\ t\";y\r\nworld\r\n0;last=1\r\n\r\n", body: "helloworld"},
		{name: "space before an extension", in: "5 ;a\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "tab before an extension", in: "5\t;a\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "space between extensions", in: "5;a ;b\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailers", in: "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: abc\r\n\r\n", body: "hello"},
		{name: "empty trailer value", in: "0\r\nX-Sum:\r\n\r\n", body: ""},
		{name: "data holding CRLFs", in: "4\r\n\r\n\r\n\r\n0\r\n\r\n", body: "\r\n\r\n"},

		{name: "no size", in: "\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "sign", in: "+5\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "minus", in: "-5\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "0x", in: "0x5\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "space before the size", in: " 5\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "space after the size", in: "5 \r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "tab after the size", in: "5\t\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "junk after the size", in: "5x\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "underscore in the size", in: "0_5\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "overflow", in: "8000000000000000\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "largest size", in: "7fffffffffffffff\r\nhello", err: io.ErrUnexpectedEOF},
		{name: "overflow with zeros", in: "0000000000000000000010000000000000000\r\n", err: ErrMalformedChunk},
		{name: "bare LF after the size", in: "5\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "bare CR after the size", in: "5\rhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "bare LF after the data", in: "5\r\nhello\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "no CRLF after the data", in: "5\r\nhelloX\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "CR then junk after the data", in: "5\r\nhello\rX0\r\n\r\n", err: ErrMalformedChunk},
		{name: "data longer than its size", in: "3\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "bare LF after the last chunk", in: "0\n\r\n", err: ErrMalformedChunk},
		{name: "bare LF ending the trailers", in: "0\r\n\n", err: ErrMalformedChunk},
		{name: "extension without a name", in: "5;\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension with an empty value", in: "5;a=\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension unquoted space", in: "5;a=b c\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension quoted-pair at the end", in: "5;a=\"b\\\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension quoted-pair of a control", in: "5;a=\"b\\\x01\"\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension open quote", in: "5;a=\"b\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension control character", in: "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension space at the end", in: "5;a \r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "extension too long", in: "5;a=" + strings.Repeat("b", 5000) + "\r\nhello\r\n0\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer without a colon", in: "0\r\nExpires\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer folded", in: "0\r\nX: a\r\n b\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer space before colon", in: "0\r\nX : a\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer with NUL", in: "0\r\nX: a\x00\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer with CR", in: "0\r\nX: a\rb\r\n\r\n", err: ErrMalformedChunk},
		{name: "trailer line too long", in: "0\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n", lim: Limits{MaxLine: 50}, err: ErrHeaderTooLarge},
		{name: "trailers too large", in: "0\r\n" + strings.Repeat("X: aaaaaaaaaa\r\n", 10) + "\r\n", lim: Limits{MaxHead: 100}, err: ErrHeaderTooLarge},
		{name: "closed in a size line", in: "5", err: io.ErrUnexpectedEOF},
		{name: "closed in the data", in: "5\r\nhel", err: io.ErrUnexpectedEOF},
		{name: "closed before the CRLF", in: "5\r\nhello", err: io.ErrUnexpectedEOF},
		{name: "closed in the trailers", in: "0\r\nX: a\r\n", err: io.ErrUnexpectedEOF},
		{name: "closed before the last CRLF", in: "0\r\n", err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} {
			t.Run(fmt.Sprintf("%s/buffer=%d", tt.name, size), func(t *testing.T) {
				in := tt.in
				if tt.err == nil || !errors.Is(tt.err, io.ErrUnexpectedEOF) {
					in += next
				}
				br := bufio.NewReaderSize(strings.NewReader(in), size)
				body, err := io.ReadAll(NewChunkedReader(br, tt.lim))
				if tt.err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("error %v, want %v", err, tt.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(body) != tt.body {
					t.Errorf("body %q, want %q", body, tt.body)
				}
				if left, _ := io.ReadAll(br); string(left) != next {
					t.Errorf("left %q, want %q: the reader read past the body", left, next)
				}
			})
		}
	}
}

// TestChunkedReader_Sticky: after the end, or an error, Read keeps saying
// so and reads nothing more.
func TestChunkedReader_Sticky(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("1\r\na\r\n0\r\n\r\n" + next))
	cr := NewChunkedReader(br, Limits{})
	if b, err := io.ReadAll(cr); err != nil || string(b) != "a" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	for range 2 {
		if n, err := cr.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read after the end = %d, %v", n, err)
		}
	}
	br = bufio.NewReader(strings.NewReader("z\r\n" + next))
	cr = NewChunkedReader(br, Limits{})
	_, err1 := cr.Read(make([]byte, 10))
	_, err2 := cr.Read(make([]byte, 10))
	if !errors.Is(err1, ErrMalformedChunk) || err2 != err1 {
		t.Fatalf("errors %v then %v", err1, err2)
	}
}

// TestChunkedReader_SmallReads decodes a byte at a time, from a peer that
// sends a byte at a time.
func TestChunkedReader_SmallReads(t *testing.T) {
	br := bufio.NewReader(iotest.OneByteReader(strings.NewReader("5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nA: b\r\n\r\n" + next)))
	cr := NewChunkedReader(br, Limits{})
	if b, err := io.ReadAll(iotest.OneByteReader(cr)); err != nil || string(b) != "hello world" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if n, err := cr.Read(nil); n != 0 || err != io.EOF {
		t.Fatalf("Read(nil) at the end = %d, %v", n, err)
	}
	if left, _ := io.ReadAll(br); string(left) != next {
		t.Errorf("left %q", left)
	}
}

// TestChunkedReader_ReadError: a read error (a timeout) comes as it is.
func TestChunkedReader_ReadError(t *testing.T) {
	br := bufio.NewReader(io.MultiReader(strings.NewReader("5\r\nhe"), iotest.ErrReader(iotest.ErrTimeout)))
	b, err := io.ReadAll(NewChunkedReader(br, Limits{}))
	if err != iotest.ErrTimeout || string(b) != "he" {
		t.Errorf("ReadAll = %q, %v", b, err)
	}
}
