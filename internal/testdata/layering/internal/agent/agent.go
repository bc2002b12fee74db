package agent

import "example.com/fake/internal/testkit"

func New() int { return testkit.Helper }
