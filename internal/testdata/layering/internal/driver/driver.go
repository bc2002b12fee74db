package driver

import "example.com/fake/internal/clock"

const Name = "process"

var _ = clock.Now
