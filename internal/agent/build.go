package agent

import (
	"context"
	"fmt"
	"os/exec"
)

// build runs the build command of every task definition that has one, in
// its build directory, before anything starts. The first failure stops the
// apply: nothing runs from a build that failed.
func (a *Agent) build(ctx context.Context, s *Stack) error {
	for _, name := range sortedKeys(s.TaskDefinitions) {
		def := s.TaskDefinitions[name]
		if def.Build == "" {
			continue
		}
		fmt.Fprintf(a.cfg.BuildOutput, "shoal: building task definition %s: %s\n", name, def.Build)
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", def.Build)
		cmd.Dir = def.BuildDir
		cmd.Stdout, cmd.Stderr = a.cfg.BuildOutput, a.cfg.BuildOutput
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build of task definition %s failed (%v): %s, in %s", name, err, def.Build, def.BuildDir)
		}
	}
	return nil
}
