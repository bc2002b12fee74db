package driver

import (
	"context"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/shoalhq/shoal/internal/clock"
)

// The labels the Docker driver puts on every container it creates. The
// state-dir label is what makes a container this shoal's: the watchdog and
// RemoveLeftovers act on it and on nothing else.
const (
	labelStack     = "shoal.stack"
	labelStateDir  = "shoal.state-dir"
	labelTask      = "shoal.task"
	labelContainer = "shoal.container"
)

// engineTimeout bounds the engine calls that have no caller's context to
// go by (CPUTime, removing a finished task's containers): an engine that
// hangs must not hang shoal.
const engineTimeout = 30 * time.Second

// pingTimeout bounds the first contact with the engine: a socket that
// accepts but never answers is reported, not waited on.
const pingTimeout = 10 * time.Second

// DockerOptions configure a Docker driver.
type DockerOptions struct {
	// Ports hands out host ports for port mappings with HostPort 0.
	// Required.
	Ports *PortAllocator
	// Stack is the stack's name, put on every container as the label
	// shoal.stack.
	Stack string
	// StateDir is shoal's state directory. It is put on every container as
	// the label shoal.state-dir, which marks the containers this shoal
	// owns: the watchdog stops them when shoal dies, RemoveLeftovers
	// removes them on the next start. Required.
	StateDir string
	// LogBytes is how much output is kept per task. Default DefaultLogBytes.
	LogBytes int
	// Clock paces the driver's polls of the engine (health status,
	// dependency conditions). The engine itself times stop timeouts and
	// health checks. Default clock.Real{}.
	Clock clock.Clock
	// Logger receives debug lines on task start and exit, and warnings the
	// caller cannot act on. Default: discard.
	Logger *slog.Logger
}

// Docker runs tasks as Docker containers through the Docker Engine API,
// the way ECS does in bridge network mode. A watchdog process (see
// docker_watchdog.go) stops this shoal's containers if shoal dies. It is
// safe for concurrent use.
type Docker struct {
	cli      *client.Client
	ports    *PortAllocator
	stack    string
	stateDir string
	logBytes int
	clock    clock.Clock
	log      *slog.Logger
	watchdog *watchdog

	closeOnce sync.Once
	closeErr  error
}

// NewDocker connects to the engine (DOCKER_HOST, or the default socket),
// settles the API version with it, and starts the watchdog. It fails when
// no engine answers, saying how to start one.
func NewDocker(ctx context.Context, opts DockerOptions) (*Docker, error) {
	if opts.Ports == nil {
		return nil, errors.New("docker driver: no port allocator: set DockerOptions.Ports")
	}
	if opts.StateDir == "" {
		return nil, errors.New("docker driver: no state dir: set DockerOptions.StateDir, which marks this shoal's containers")
	}
	d := &Docker{ports: opts.Ports, stack: opts.Stack, stateDir: opts.StateDir, logBytes: opts.LogBytes,
		clock: opts.Clock, log: opts.Logger}
	if d.clock == nil {
		d.clock = clock.Real{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	cli, err := connectEngine(ctx)
	if err != nil {
		return nil, err
	}
	d.cli = cli
	if d.watchdog, err = startWatchdog(ctx, d.stateDir, d.log); err != nil {
		cli.Close()
		return nil, err
	}
	return d, nil
}

// connectEngine returns a client of the engine that DOCKER_HOST names (or
// the default socket), once the engine has answered a ping, with the API
// version lowered to the engine's when it is older than the client's.
func connectEngine(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine: %w (check DOCKER_HOST and the other DOCKER_ variables)", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := cli.Ping(pctx)
	if err != nil {
		host := cli.DaemonHost()
		cli.Close()
		return nil, engineError(host, err)
	}
	cli.NegotiateAPIVersionPing(ping)
	return cli, nil
}

// engineError says why the engine at host did not answer and what to do.
func engineError(host string, err error) error {
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("no access to the Docker engine at %s: %v; add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again)", host, err)
	}
	return fmt.Errorf("no Docker engine answers at %s: %v; start it (`sudo systemctl start docker`, or run `dockerd`), or point DOCKER_HOST at one", host, err)
}

// Close stops the watchdog without it stopping anything (the caller has
// stopped its tasks already), and closes the connection to the engine.
// Tasks still running are left running. It is safe to call more than once.
func (d *Docker) Close() error {
	d.closeOnce.Do(func() {
		d.closeErr = errors.Join(d.watchdog.close(), d.cli.Close())
	})
	return d.closeErr
}

// Gateway is the IPv4 address of the gateway of the engine's default
// bridge network ("172.17.0.1"), where containers reach this host: the
// address that host services which containers call must listen on.
func (d *Docker) Gateway(ctx context.Context) (string, error) {
	nw, err := d.cli.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect the engine's bridge network: %w", err)
	}
	for _, c := range nw.IPAM.Config {
		if gw, ok := bridgeGateway(c); ok {
			return gw.String(), nil
		}
	}
	return "", errors.New("the engine's bridge network has no IPv4 subnet: check dockerd's bridge settings (bip in /etc/docker/daemon.json)")
}

// bridgeGateway is the IPv4 gateway of one address range of the bridge:
// the one the engine states, else the first address of the subnet, which
// is the one the engine takes (Docker 20.10 states none for the default
// bridge unless dockerd was given bip).
func bridgeGateway(c network.IPAMConfig) (netip.Addr, bool) {
	if gw, err := netip.ParseAddr(c.Gateway); err == nil && gw.Is4() {
		return gw, true
	}
	if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is4() {
		return p.Masked().Addr().Next(), true
	}
	return netip.Addr{}, false
}

// RemoveLeftovers removes, by force, every container labelled with this
// shoal's state dir: what a shoal that was killed left behind (its
// watchdog normally stops them, and removes them too unless it was killed
// as well). It returns the names of those it removed.
func (d *Docker) RemoveLeftovers(ctx context.Context) ([]string, error) {
	list, err := listOwned(ctx, d.cli, d.stateDir)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for _, c := range list {
		err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			names = append(names, summaryName(c))
		case !cerrdefs.IsNotFound(err): // gone meanwhile: nothing left to do
			errs = append(errs, fmt.Errorf("remove container %s: %w", summaryName(c), err))
		}
	}
	return names, errors.Join(errs...)
}

// listOwned lists the containers, running or not, labelled with stateDir.
func listOwned(ctx context.Context, cli *client.Client, stateDir string) ([]container.Summary, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", labelStateDir+"="+stateDir)),
	})
	if err != nil {
		return nil, fmt.Errorf("list the containers of %s: %w", stateDir, err)
	}
	return list, nil
}

// summaryName is a listed container's name, without the engine's leading
// slash, or its short id when it has none.
func summaryName(c container.Summary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return c.ID[:min(12, len(c.ID))]
}
