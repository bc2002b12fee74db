//go:build linux

package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
)

// commandTimeout bounds each ip or nft command: they take milliseconds, but
// a batch for 250 instances does a thousand operations.
const commandTimeout = time.Minute

// run runs a command with stdin, and returns its standard output; its error
// holds what the command wrote to standard error.
func run(ctx context.Context, stdin string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ipBatch runs ip commands, one a line, in one process: `ip -batch -` stops
// at the first that fails and names its line.
func ipBatch(ctx context.Context, lines []string, args ...string) error {
	args = append(args, "-batch", "-")
	_, err := run(ctx, strings.Join(lines, "\n")+"\n", "ip", args...)
	return err
}

// loadTable replaces the nft table of namespace ns with script, in one nft
// transaction.
func loadTable(ctx context.Context, ns, script string) error {
	_, err := run(ctx, script, "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}

// ipJSON runs ip with -json and decodes its output into v.
func ipJSON(ctx context.Context, v any, args ...string) error {
	out, err := run(ctx, "", "ip", append([]string{"-json"}, args...)...)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil // ip prints nothing, not [], when there is nothing
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("ip -json %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// hostLinks lists the names of the host namespace's links.
func hostLinks(ctx context.Context) ([]string, error) {
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := ipJSON(ctx, &links, "link", "show"); err != nil {
		return nil, err
	}
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.Name
	}
	return names, nil
}

// namespaces lists the named network namespaces, as `ip netns list` does:
// by reading the directory their mount points are in.
func namespaces() ([]string, error) {
	entries, err := os.ReadDir(runNetns)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// minRouteBits leaves out of the overlap check the routes that cover a
// quarter of the internet or more (default, a VPN's two /1 halves): they
// overlap every candidate, yet the bridge's /24 is more specific and takes
// only its own addresses from them.
const minRouteBits = 8

// usedPrefixes lists the IPv4 prefixes of the host's addresses and routes
// (every table), which a stack's subnet must not overlap.
func usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var addrs []struct {
		Info []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := ipJSON(ctx, &addrs, "-4", "addr", "show"); err != nil {
		return nil, err
	}
	var used []netip.Prefix
	for _, l := range addrs {
		for _, a := range l.Info {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.Prefixlen)); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	routes, err := routePrefixes(ctx)
	return append(used, routes...), err
}

func routePrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := ipJSON(ctx, &routes, "-4", "route", "show", "table", "all"); err != nil {
		return nil, err
	}
	var used []netip.Prefix
	for _, r := range routes {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst) // a host route, or "default"
			if aerr != nil {
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() >= minRouteBits {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}
