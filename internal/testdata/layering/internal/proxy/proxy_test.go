package proxy

import (
	"testing"

	"example.com/fake/internal/clock/clocktest"
	"example.com/fake/internal/testkit"
)

func TestProxy(t *testing.T) { _, _ = clocktest.Fake, testkit.Helper }
