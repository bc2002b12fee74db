package httpwire

import (
	"strings"
	"testing"
)

// TestHeaderTier replays guardian's test_field_name_tier and
// test_field_value_tier.
func TestHeaderTier(t *testing.T) {
	names := map[string]tier{
		"header-ok": tierCompliant, "CAPITALS-OK": tierCompliant, "header_ok": tierCompliant,
		"tchars-ok-.!#$%&'*+^_`|~": tierCompliant, " space-not-ok": tierNonCompliant, "tab-not-ok\t": tierNonCompliant,
		"\x01CTL-not-ok\t": tierNonCompliant, "\x1fCTL-not-ok\t": tierNonCompliant, "\x7fCTL-not-ok\t": tierNonCompliant,
		"caret-not-accepted\r": tierBad, "line-not-accepted\n": tierBad, "nil-not-accepted\x00": tierBad,
	}
	for name, want := range names {
		if got := nameTier(name); got != want {
			t.Errorf("nameTier(%q) = %d, want %d", name, got, want)
		}
	}
	values := map[string]tier{
		"normal_text": tierCompliant, "\t\tOWS \t   ": tierCompliant, "obs-text\x60\x85\x93\xa0": tierCompliant,
		"field content\t\tmay have \t\twhite-spaces": tierCompliant, "\x01s are non compliant": tierNonCompliant,
		"\x7fs are non compliant": tierNonCompliant, "\x00 is bad": tierBad, "\r is bad": tierBad, "\n is bad": tierBad,
	}
	for value, want := range values {
		if got := valueTier(value); got != want {
			t.Errorf("valueTier(%q) = %d, want %d", value, got, want)
		}
	}
}

// TestKnownCoding replays guardian's test_valid_te, and TestParseUint its
// test_parse_num.
func TestKnownCoding(t *testing.T) {
	for item, want := range map[string]string{
		"chunked": "chunked", "compress": "compress", "deflate": "deflate", "gzip": "gzip", "identity": "identity",
		"chunked;": "chunked", "chunked;extension1;extension2;": "chunked", " CHUNKED ": "chunked", " chunked": "chunked",
		" chunked\t": "chunked", " chunked\t\t;\t\t": "chunked", "xchunked": "", "x_chunked": "", "": "",
	} {
		got, ok := knownCoding(item)
		if got != want || ok != (want != "") {
			t.Errorf("knownCoding(%q) = %q, %v; want %q", item, got, ok, want)
		}
	}
}

func TestParseUint(t *testing.T) {
	tests := []struct {
		s    string
		n    uint64
		fail bool
	}{
		{"0", 0, false}, {"1000", 1000, false}, {"123456789", 123456789, false},
		{"18446744073709551615", 18446744073709551615, false}, {"18446744073709551616", 0, true},
		{"123456789123456789123456789123456789", 0, true}, {"123,123", 0, true}, {"123.123", 0, true}, {"-1", 0, true},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseUint(tt.s)
		if n != tt.n || ok == tt.fail {
			t.Errorf("parseUint(%q) = %d, %v", tt.s, n, ok)
		}
	}
}

// TestValueTier_Words: the 8-byte fast path finds a control character or
// DEL wherever it is, and lets obs-text through.
func TestValueTier_Words(t *testing.T) {
	for n := range 20 {
		for _, c := range []byte{0, 1, '\t', '\r', 0x1f, 0x7f, ' ', '~', 0x80, 0xff} {
			v := []byte(strings.Repeat("a", 20))
			v[n] = c
			want := tierCompliant
			switch {
			case isBad(c):
				want = tierBad
			case c < ' ' && c != '\t' || c == 0x7f:
				want = tierNonCompliant
			}
			if got := valueTier(string(v)); got != want {
				t.Errorf("valueTier(%q) = %d, want %d", v, got, want)
			}
		}
	}
}
