package testkit

import (
	"testing"

	"example.com/fake/internal/clock/clocktest"
)

const Helper = clocktest.Fake

var _ testing.TB
