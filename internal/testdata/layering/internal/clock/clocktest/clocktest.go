package clocktest

import "example.com/fake/internal/clock"

const Fake = clock.Now
