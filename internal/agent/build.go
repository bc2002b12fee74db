package agent

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"

	"github.com/shoalhq/shoal/internal/driver"
	"time"
)

// buildProgressEvery is how often a build that prints nothing is said to
// be still running, so that a first build (Go compiling a whole module
// graph, say) never looks hung.
const buildProgressEvery = 4 * time.Second

// build runs the build command of every task definition that has one, in
// its build directory, before anything starts. Its output goes to
// BuildOutput as it comes, with a line every few seconds saying the build
// still runs. The first failure stops the apply: nothing runs from a build
// that failed.
func (a *Agent) build(ctx context.Context, s *Stack) error {
	for _, name := range sortedKeys(s.TaskDefinitions) {
		def := s.TaskDefinitions[name]
		if def.Build != "" {
			fmt.Fprintf(a.cfg.BuildOutput, "shoal: building task definition %s: %s (in %s)\n", name, def.Build, def.BuildDir)
			start := a.clock.Now()
			if err := a.runBuild(ctx, name, def); err != nil {
				return fmt.Errorf("build of task definition %s failed (%v): %s, in %s", name, err, def.Build, def.BuildDir)
			}
			fmt.Fprintf(a.cfg.BuildOutput, "shoal: built task definition %s in %s\n", name, roundDuration(a.clock.Now().Sub(start)))
		}
		if def.Image != nil {
			if err := a.buildImage(ctx, name, def); err != nil {
				return err
			}
		}
	}
	return nil
}

// ImageBuilder is a Runner that builds images: the Docker driver. Build
// returns the image's reference.
type ImageBuilder interface {
	Build(ctx context.Context, contextDir, dockerfile string, out io.Writer) (string, error)
}

// buildImage builds def's image, which the containers that name none
// run from then on (see builtImage).
func (a *Agent) buildImage(ctx context.Context, name string, def TaskDefinition) error {
	b, ok := a.cfg.Runners[def.Kind].(ImageBuilder)
	if !ok {
		return fmt.Errorf("task definition %s: the %s runner cannot build images", name, def.Kind)
	}
	fmt.Fprintf(a.cfg.BuildOutput, "shoal: building the image of task definition %s from %s (in %s)\n", name, def.Image.Dockerfile, def.Image.Context)
	start := a.clock.Now()
	image, err := b.Build(ctx, def.Image.Context, def.Image.Dockerfile, a.cfg.BuildOutput)
	if err != nil {
		return fmt.Errorf("image build of task definition %s failed: %w", name, err)
	}
	fmt.Fprintf(a.cfg.BuildOutput, "shoal: built image %s for task definition %s in %s\n", image, name, roundDuration(a.clock.Now().Sub(start)))
	a.mu.Lock()
	if a.images == nil {
		a.images = map[ImageBuild]string{}
	}
	a.images[*def.Image] = image
	a.mu.Unlock()
	return nil
}

// builtImage is the image last built from b ("" if none was).
func (a *Agent) builtImage(b ImageBuild) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.images[b]
}

// withImage gives image to the containers that name none. The task
// definition's revision keeps no image: a build of the same context
// refreshes it, as a build command refreshes a process's binary.
func withImage(cs []driver.ContainerSpec, image string) []driver.ContainerSpec {
	out := slices.Clone(cs)
	for i := range out {
		if out[i].Image == "" {
			out[i].Image = image
		}
	}
	return out
}

// runBuild runs one build command and reports its progress until it ends.
func (a *Agent) runBuild(ctx context.Context, name string, def TaskDefinition) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", def.Build)
	cmd.Dir = def.BuildDir
	cmd.Stdout, cmd.Stderr = a.cfg.BuildOutput, a.cfg.BuildOutput
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := a.clock.Now()
	tick := a.clock.NewTimer(buildProgressEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C():
			fmt.Fprintf(a.cfg.BuildOutput, "shoal: still building task definition %s (%s so far)\n",
				name, roundDuration(a.clock.Now().Sub(start)))
			tick.Reset(buildProgressEvery)
		}
	}
}

// roundDuration rounds d for people: whole seconds, or tenths below 10 s.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
