package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// scalar decodes a string, a whole number or a boolean.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		d.text(n, v, path)
	case reflect.Int, reflect.Int64, reflect.Int32:
		d.integer(n, v, path)
	case reflect.Bool:
		d.boolean(n, v, path)
	case reflect.Float64:
		d.float(n, v, path)
	default:
		// Only reachable if a stack type gains a field of a new kind.
		d.fail(n, path, "shoal cannot decode a %s here; this is a bug in shoal", v.Type())
	}
}

// text takes any scalar as written, so that `port: 8080` in a health check
// or `DEBUG: true` in an environment need no quotes.
func (d *decoder) text(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a string, got %s", describe(n))
		return
	}
	v.SetString(n.Value)
}

func (d *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	var i int64
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" && n.Decode(&i) == nil && !v.OverflowInt(i) {
		v.SetInt(i)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		d.fail(n, path, "%s is too large", n.Value)
		return
	}
	if _, err := strconv.Atoi(n.Value); err == nil && n.Kind == yaml.ScalarNode {
		d.fail(n, path, "expected a number, got the string %q: remove the quotes", n.Value)
		return
	}
	d.fail(n, path, "expected a whole number, got %s", describe(n))
}

func (d *decoder) float(n *yaml.Node, v reflect.Value, path string) {
	var f float64
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") && n.Decode(&f) == nil &&
		!math.IsNaN(f) && !math.IsInf(f, 0) {
		v.SetFloat(f)
		return
	}
	if _, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		d.fail(n, path, "expected a number, got the string %q: remove the quotes", n.Value)
		return
	}
	d.fail(n, path, "expected a number, got %s", describe(n))
}

func (d *decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	var b bool
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && n.Decode(&b) == nil {
		v.SetBool(b)
		return
	}
	d.fail(n, path, "expected true or false, got %s", describe(n))
}

func (d *decoder) duration(n *yaml.Node, p *Duration, path string) {
	dur, err := parseDuration(n)
	if err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	*p = Duration(dur)
}

// parseDuration reads a number of seconds (30, 0.5), as in the AWS APIs,
// or a Go duration string ("500ms").
func parseDuration(n *yaml.Node) (time.Duration, error) {
	bad := fmt.Errorf("expected a number of seconds or a duration like \"30s\", got %s", describe(n))
	if n.Kind != yaml.ScalarNode {
		return 0, bad
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return seconds(n.Value)
	case "!!str":
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return seconds(n.Value)
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return 0, bad
		}
		if dur < 0 {
			return 0, fmt.Errorf("duration %s is negative: use 0 or more", n.Value)
		}
		return dur, nil
	}
	return 0, bad
}

// seconds converts a YAML number of seconds to a duration.
func seconds(s string) (time.Duration, error) {
	var f float64
	if err := yaml.Unmarshal([]byte(s), &f); err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("expected a number of seconds or a duration like \"30s\", got %q", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("duration %s is negative: use 0 or more", s)
	}
	if f >= float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("duration %s is too long: write a number of seconds, like 30", s)
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

func (d *decoder) matcher(n *yaml.Node, p *Matcher, path string) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!str") {
		d.fail(n, path, "expected status codes like \"200\", \"200,202\" or \"200-299\", got %s", describe(n))
		return
	}
	m, err := ParseMatcher(n.Value)
	if err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	*p = m
}

// command takes a list as the argv, or a string to run with /bin/sh -c.
func (d *decoder) command(n *yaml.Node, p *Command, path string) {
	const hint = `write the command that starts the task, like [bin/app] or "python app.py"`
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			d.fail(n, path, "command is empty: %s", hint)
			return
		}
		*p = Command{"/bin/sh", "-c", n.Value}
	case yaml.SequenceNode:
		d.argv(n, p, path, hint)
	default:
		d.fail(n, path, "expected a list or a string, got %s: %s", describe(n), hint)
	}
}

func (d *decoder) argv(n *yaml.Node, p *Command, path, hint string) {
	if len(n.Content) == 0 {
		d.fail(n, path, "command is empty: %s", hint)
		return
	}
	argv := make(Command, len(n.Content))
	for i, item := range n.Content {
		if item.Kind != yaml.ScalarNode || isNull(item) {
			d.fail(item, indexPath(path, i), "expected a string, got %s", describe(item))
			d.src.failed[path] = true
			return
		}
		argv[i] = item.Value
	}
	if strings.TrimSpace(argv[0]) == "" {
		d.fail(n.Content[0], indexPath(path, 0), "the program to run is empty: %s", hint)
		d.src.failed[path] = true
		return
	}
	*p = argv
}

// build decodes a task definition's build: a shell command, or a mapping
// {context, dockerfile} for a Docker image.
func (d *decoder) build(n *yaml.Node, p *Build, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		p.Command = n.Value
	case yaml.MappingNode:
		var image struct {
			Command    string `yaml:"command"`
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		}
		image.Dockerfile = DefaultDockerfile
		d.structure(n, reflect.ValueOf(&image).Elem(), path)
		p.Command, p.Context, p.Dockerfile = image.Command, image.Context, image.Dockerfile
		if p.Context == "" {
			d.fail(n, path, "a Docker build needs context: the folder to build, like {context: ., dockerfile: Dockerfile}")
		}
	default:
		d.fail(n, path, "expected a shell command or {context: ., dockerfile: Dockerfile}, got %s", describe(n))
	}
}
