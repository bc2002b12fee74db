package httpwire

// similarity is how close a header name is to Transfer-Encoding or
// Content-Length.
type similarity uint8

const (
	distant     similarity = iota
	identical              // the same name, but for case
	sameLetters            // the same letters with other delimiters, white space, controls or look-alikes around or between them
)

const (
	nameTE = "transfer-encoding"
	nameCL = "content-length"
)

// similar is guardian's determine_similarity: it walks important (lower
// case letters and '-') and name side by side, skipping non-alphanumerics in
// name where important has '-', and control characters and white space
// after each letter. One addition, from guardian's test cases: the whole
// name followed by white space and more ("Transfer-Encoding x") is
// sameLetters, as an engine that cuts a name at white space would see it.
func similar(important, name string) similarity {
	if len(name) < len(important) {
		return distant
	}
	i := nextAlnum(name, 0)
	same := i == 0 && len(important) == len(name)
	for k := range len(important) {
		if i == len(name) {
			return distant
		}
		c := important[k]
		ok, next := sameChar(c, name, i)
		if !ok {
			if c != '-' {
				return rest(name, i, same)
			}
			same = false
		}
		if c == '-' {
			i = nextAlnum(name, next)
		} else {
			i = nextSymbol(name, next)
			if k == len(important)-1 && i > next && i < len(name) {
				return sameLetters // the whole name, then white space and more
			}
		}
	}
	return rest(name, i, same)
}

// rest is the similarity of name once the walk stopped at i.
func rest(name string, i int, same bool) similarity {
	switch {
	case i == len(name) && same:
		return identical
	case i == len(name) || nextAlnum(name, i) == len(name):
		return sameLetters
	}
	return distant
}

// sameChar tells whether name at i is the lower-case letter c, or one of the
// two UTF-8 letters whose upper case is ASCII (ſ is S, ı is I), and where
// the next character starts.
func sameChar(c byte, name string, i int) (bool, int) {
	b := name[i]
	if lower(b) == c {
		return true, i + 1
	}
	if i+1 < len(name) {
		switch {
		case c == 's' && b == 0xc5 && name[i+1] == 0xbf,
			c == 'i' && b == 0xc4 && name[i+1] == 0xb1:
			return true, i + 2
		}
	}
	return false, i + 1
}

func nextAlnum(s string, i int) int {
	for i < len(s) && !isAlnum(s[i]) {
		i++
	}
	return i
}

// nextSymbol skips control characters and spaces.
func nextSymbol(s string, i int) int {
	for i < len(s) && s[i] <= ' ' {
		i++
	}
	return i
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
