package httpwire

import (
	"strings"
	"testing"
)

// TestSimilar replays guardian's test_same_letters (http_token_utils.rs)
// and adds the names of its YAML cases.
func TestSimilar(t *testing.T) {
	tests := []struct {
		important, name string
		want            similarity
	}{
		{"t-e", "t-e", identical},
		{"t-e", "t_e", sameLetters},
		{"t-e", "t_e ", sameLetters},
		{"t-e", "t____e", sameLetters},
		{"t-e", "t----e", sameLetters},
		{"t", "tp", distant},
		{"t", "t0", distant},
		{"t", "t_", sameLetters},
		{"t", "p", distant},
		{"t", "", distant},
		{nameTE, "transfer-encoding1", distant},
		{nameTE, "tran\u017ffer-encoding", sameLetters},
		{nameTE, "transfer-encod\u0131ng", sameLetters},
		{nameTE, "transfer-encoding", identical},
		{nameTE, "Transfer-Encoding", identical},
		{"x-my-custom-important-header", "X-My-Custom-Important-Header", identical},
		{"x-my-custom-important-header", "X_My_Custom_Important_Header", sameLetters},
		{nameTE, "transfer-encodin", distant},
		{"transfer", "transfer-encoding", distant},
		{nameTE, "TRANSFER-ENCODING", identical},
		{nameTE, "transfer-\tencoding", sameLetters},
		{nameTE, "\r\ntransfer-\t\te\tn\tc o d i ng\t", sameLetters},
		{nameTE, "transfer_encoding", sameLetters},
		{nameTE, "transfer---encoding", sameLetters},
		{nameTE, "x_transfer_encoding", distant},
		{nameTE, "x_transfer_encodings", distant},
		{nameTE, "gibberish", distant},
		{nameTE, "\t\x01\x02transfer-encoding\t\x0f\x0c", sameLetters},
		{nameTE, strings.Repeat("\t", 27), distant},
		{nameTE, "accept-encoding", distant},
		// The addition: the name, white space, more.
		{nameTE, "Transfer-Encoding x", sameLetters},
		{nameTE, "transfer-encoding XY", sameLetters},
		{nameCL, "Content-Length 5", sameLetters},
		{nameCL, "Content-Length5", distant},
		{nameCL, "Content-Lengths", distant},
		{nameCL, "X-Content-Length", distant},
	}
	for _, tt := range tests {
		if got := similar(tt.important, tt.name); got != tt.want {
			t.Errorf("similar(%q, %q) = %d, want %d", tt.important, tt.name, got, tt.want)
		}
	}
}

// TestSimilar_UTF8 replays guardian's test_utf8_spaces,
// test_utf8_delimiters and test_arbitrary_non_utf8_bytes.
func TestSimilar_UTF8(t *testing.T) {
	for _, sp := range []string{"\t", "\n", "\v", "\f", "\r", " ", "\u0085", "\u00a0", "\u1680", "\u180e",
		"\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009",
		"\u200a", "\u200b", "\u200c", "\u200d", "\u2028", "\u2029", "\u202f", "\u205f", "\u2060", "\u3000", "\ufeff"} {
		if name := sp + "Transfer-Encoding" + sp; similar(nameTE, name) != sameLetters {
			t.Errorf("similar(%q) is not sameLetters", name)
		}
	}
	for _, dash := range []string{"\u058a", "\u05be", "\u1400", "\u1806", "\u2010", "\u2011", "\u2012", "\u2013",
		"\u2014", "\u2015", "\u2e17", "\u2e1a", "\u2e3a", "\u2e3b", "\u2e40", "\u301c", "\u3030", "\u30a0",
		"\ufe31", "\ufe32", "\ufe58", "\ufe63", "\uff0d", "\U00010ead"} {
		if name := "Transfer" + dash + "Encoding"; similar(nameTE, name) != sameLetters {
			t.Errorf("similar(%q) is not sameLetters", name)
		}
	}
	for _, name := range []string{"Transfer\x88Encoding", "Transfer\x88\x88Encoding", "Transfer-Encoding\x99",
		"Transfer-Encoding\x99\x99\x99", "\xa0Transfer-Encoding", "\xa0\xa0\xa0\xa0Transfer-Encoding"} {
		if similar(nameTE, name) != sameLetters {
			t.Errorf("similar(%q) is not sameLetters", name)
		}
	}
}
