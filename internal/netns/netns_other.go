//go:build !linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// errUnsupported is what isolated mode says outside Linux.
var errUnsupported = fmt.Errorf("%w: isolated mode needs Linux network namespaces and nftables, and this is %s: run shoal without isolated mode, or on Linux", errors.ErrUnsupported, runtime.GOOS)

// Supported returns an error wrapping errors.ErrUnsupported: isolated mode
// runs on Linux only.
func Supported() error { return errUnsupported }

// Open fails with the error Supported returns: isolated mode runs on Linux
// only.
func Open(ctx context.Context, opts Options) (*Network, error) { return nil, errUnsupported }

func (n *Network) do(path string, fn func() error) error { return errUnsupported }

func (n *Network) load(ctx context.Context, ns, script string) error { return errUnsupported }

func (n *Network) teardown() error { return nil }
