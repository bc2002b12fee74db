package driver

import "example.com/fake/internal/store"

var _ = store.Dir
