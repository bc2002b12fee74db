package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePortRange parses a host port range written "first-last", like
// "49152-65535". Both ends are included and must be within 1024-65535:
// ports below 1024 need privileges that tasks should not need.
func ParsePortRange(s string) (lo, hi int, err error) {
	first, last, ok := strings.Cut(strings.TrimSpace(s), "-")
	lo, errLo := strconv.Atoi(strings.TrimSpace(first))
	hi, errHi := strconv.Atoi(strings.TrimSpace(last))
	switch {
	case !ok || errLo != nil || errHi != nil:
		return 0, 0, fmt.Errorf("port range %q must be written first-last, like 49152-65535", s)
	case lo < 1024 || hi > 65535:
		return 0, 0, fmt.Errorf("port range %q must be within 1024-65535", s)
	case lo > hi:
		return 0, 0, fmt.Errorf("port range %q ends before it starts: write the lower port first", s)
	}
	return lo, hi, nil
}
