package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// leftovers lists what shoal created on this host and has not removed, as
// "netns NAME", "link NAME" and "nft table FAMILY NAME": namespaces named
// shoal-*, links named like a stack's bridge or veths, and nftables tables
// of the host namespace named shoal*. With no stack open it is empty, but
// for the namespace of a Supported running at that moment (shoal-probe-*).
func leftovers() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var out []string
	nss, err := namespaces()
	if err != nil {
		return nil, err
	}
	for _, ns := range nss {
		if strings.HasPrefix(ns, "shoal-") {
			out = append(out, "netns "+ns)
		}
	}
	links, err := hostLinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if isShoalLink(l) {
			out = append(out, "link "+l)
		}
	}
	tables, err := hostTables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if _, name, _ := strings.Cut(t, " "); strings.HasPrefix(name, "shoal") {
			out = append(out, "nft table "+t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// hostTables lists the host namespace's nftables tables as "family name".
func hostTables(ctx context.Context) ([]string, error) {
	out, err := run(ctx, "", "nft", "-j", "list", "tables")
	if err != nil {
		return nil, err
	}
	var v struct {
		Nftables []struct {
			Table *struct {
				Family string `json:"family"`
				Name   string `json:"name"`
			} `json:"table"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("nft -j list tables: %w", err)
	}
	var tables []string
	for _, e := range v.Nftables {
		if e.Table != nil {
			tables = append(tables, e.Table.Family+" "+e.Table.Name)
		}
	}
	return tables, nil
}
