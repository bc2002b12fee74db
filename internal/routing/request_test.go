package routing

import "testing"

func TestNormalizePath(t *testing.T) {
	tests := map[string]string{
		"/a/b/c/./../../g":    "/a/g", // RFC 3986 §5.2.4
		"mid/content=5/../6":  "mid/6",
		"/a/b/..":             "/a/",
		"/a/b/.":              "/a/b/",
		"/..":                 "/",
		"/../a":               "/a",
		"/%7Euser/%41%2f%2F":  "/~user/A%2F%2F",
		"/%zz/%4":             "/%zz/%4",
		"/a//b":               "/a//b",
		"/.hidden/..x/...":    "/.hidden/..x/...",
		"/x/%2E%2e/y":         "/y",
		"":                    "",
		"/plain/path.html":    "/plain/path.html",
		"/a/b/../../../../c/": "/c/",
	}
	for in, want := range tests {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePath_DoesNotAllocateWhenNormal(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { normalizePath("/api/v1/users/42.json") }); n != 0 {
		t.Errorf("normalizePath of a normal path: got %v allocations, want 0", n)
	}
}

func TestHostName(t *testing.T) {
	tests := map[string]string{
		"example.com":      "example.com",
		"example.com:8080": "example.com",
		"[::1]:80":         "[::1]",
		"[::1]":            "[::1]",
		"[::1":             "[::1",
		"":                 "",
	}
	for in, want := range tests {
		if got := hostName(in); got != want {
			t.Errorf("hostName(%q): got %q, want %q", in, got, want)
		}
	}
}
