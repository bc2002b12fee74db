package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/driver"
)

// usesContainers reports whether any task definition of s runs as
// containers.
func usesContainers(s *agent.Stack) bool {
	for _, td := range s.TaskDefinitions {
		if td.Kind == agent.KindDocker {
			return true
		}
	}
	return false
}

// dockerRunner is the Docker driver with the address of the engine's
// bridge gateway, where containers reach this host.
type dockerRunner struct {
	*driver.Docker
	gateway string
}

// openDocker connects to the Docker engine, removes the containers a
// killed shoal of this state directory left, and says so.
func openDocker(ctx context.Context, e *env, stack, stateDir string, ports *driver.PortAllocator, log *slog.Logger) (*dockerRunner, error) {
	dk, err := driver.NewDocker(ctx, driver.DockerOptions{Ports: ports, Stack: stack, StateDir: stateDir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("the stack's containers and image registry need a Docker engine: %w", err)
	}
	removed, err := dk.RemoveLeftovers(ctx)
	if err != nil {
		dk.Close()
		return nil, fmt.Errorf("remove the containers a previous shoal left: %w", err)
	}
	if len(removed) > 0 {
		fmt.Fprintf(e.stderr, "shoal: removed %d containers a previous run of this state directory left behind: %s\n", len(removed), strings.Join(removed, ", "))
	}
	gateway, err := dk.Gateway(ctx)
	if err != nil {
		dk.Close()
		return nil, err
	}
	return &dockerRunner{Docker: dk, gateway: gateway}, nil
}
