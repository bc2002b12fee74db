package sched

import (
	"example.com/fake/internal/clock"
	"sort"
)

var _ = sort.Ints
var _ = clock.Now
