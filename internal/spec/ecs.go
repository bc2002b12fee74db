package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ECSTaskDefinition is what shoal takes from the JSON of `aws ecs
// register-task-definition --cli-input-json`.
type ECSTaskDefinition struct {
	// Family is the task definition's name: 1-255 letters, digits, - and
	// _. Required.
	Family string `json:"family"`
	// NetworkMode is bridge (each container port mapped to a host port,
	// dynamic when hostPort is 0) or host (a container listens on the
	// instance's port itself). Default: bridge.
	NetworkMode string `json:"network_mode"`
	// Containers are the containerDefinitions, in the file's order. At
	// least one, and at least one essential.
	Containers []*Container `json:"containers"`
	// CPU is the task's cpu in ECS CPU units ("256", or "0.25 vCPU" with
	// 1024 units a vCPU) and Memory its memory in MiB ("512", or "0.5 GB"
	// with 1024 MiB a GB). Default: 0 (none).
	CPU    int `json:"cpu,omitempty"`
	Memory int `json:"memory,omitempty"`
}

// ParseECSTaskDefinition reads data (the content of file) as an ECS task
// definition. Errors carry the JSON path (like
// "containerDefinitions[0].portMappings[1].hostPort") and the line and
// column in file; warnings list every field present in the JSON that shoal
// does not implement, each with its JSON path and line, so that nothing is
// ignored in silence. A null value counts as absent. On error, def is the
// zero value; err is then an ErrorList in file order.
func ParseECSTaskDefinition(file string, data []byte) (def ECSTaskDefinition, warnings ErrorList, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a byte order mark
	doc, src, err := decodeJSON(data)
	if err != nil {
		return ECSTaskDefinition{}, nil, ErrorList{jsonSyntaxError(file, data, err)}
	}
	p := &ecsParser{file: file, src: src}
	def = p.taskDefinition(doc)
	p.check(&def)
	p.warns.sort()
	if err := p.errs.err(); err != nil {
		return ECSTaskDefinition{}, p.warns, err
	}
	def.hostPorts()
	return def, p.warns, nil
}

// hostPorts gives the port mappings of a host mode task the host port they
// get there: the container port.
func (def *ECSTaskDefinition) hostPorts() {
	if def.NetworkMode != "host" {
		return
	}
	for _, c := range def.Containers {
		for _, m := range c.PortMappings {
			m.HostPort = m.ContainerPort
		}
	}
}

// decodeJSON decodes data into maps, slices, strings, bools and
// json.Numbers, and finds where each value was written.
func decodeJSON(data []byte) (any, *source, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, nil, err // the only check that finds text after the value
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, err
	}
	offsets, err := jsonOffsets(data)
	if err != nil {
		return nil, nil, err
	}
	src, lines := newSource(), newLineIndex(data)
	for path, off := range offsets {
		line, col := lines.position(off)
		src.pos[path] = position{line, col}
	}
	return doc, src, nil
}

// jsonOffsets returns the byte offset where each value of the JSON
// document data starts, by path: "" is the document, a.b a member of a,
// a[0] an element. encoding/json keeps no positions, so it walks the
// tokens once.
func jsonOffsets(data []byte) (map[string]int, error) {
	offsets := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(data))
	return offsets, walkJSON(dec, data, "", offsets)
}

func walkJSON(dec *json.Decoder, data []byte, path string, offsets map[string]int) error {
	// The decoder stands just past the previous token: the value starts
	// after the blanks and the , or : between them.
	off := int(dec.InputOffset())
	for off < len(data) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	offsets[path] = off
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			if err := walkJSON(dec, data, joinPath(path, key.(string)), offsets); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, data, indexPath(path, i), offsets); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing } or ]
	return err
}

// lineIndex turns byte offsets into lines and columns.
type lineIndex struct {
	data   []byte
	starts []int // the offset of each line's first byte
}

func newLineIndex(data []byte) lineIndex {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lineIndex{data, starts}
}

// position returns the 1-based line and column (counted in characters) of
// the byte at off; past the end, of the end.
func (ix lineIndex) position(off int) (line, col int) {
	off = min(max(off, 0), len(ix.data))
	line, _ = slices.BinarySearch(ix.starts, off+1) // the lines starting at or before off
	return line, utf8.RuneCount(ix.data[ix.starts[line-1]:off]) + 1
}

// jsonSyntaxError places a JSON syntax error at the character it is about
// and says how to fix the common ones.
func jsonSyntaxError(file string, data []byte, err error) *Error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &Error{File: file, Msg: "invalid JSON: " + err.Error()}
	}
	off, atEnd := int(se.Offset)-1, truncated(data) // the offset is past the character
	if atEnd {
		off = len(bytes.TrimRight(data, " \t\r\n")) // the end, not a blank line after it
	}
	line, col := newLineIndex(data).position(off)
	msg := "invalid JSON: " + se.Error()
	if hint := syntaxHint(data, off, atEnd); hint != "" {
		msg += "; " + hint
	}
	return &Error{File: file, Line: line, Column: col, Msg: msg}
}

// truncated reports whether data ends before its value does.
func truncated(data []byte) bool {
	err := json.NewDecoder(bytes.NewReader(data)).Decode(new(json.RawMessage))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func syntaxHint(data []byte, off int, atEnd bool) string {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return `the file is empty: write the task definition, {"family": "app", "containerDefinitions": [...]}`
	case atEnd:
		return "the file ends before every { and [ is closed"
	}
	before := bytes.TrimRight(data[:off], " \t\r\n")
	switch {
	case (data[off] == '}' || data[off] == ']') && bytes.HasSuffix(before, []byte{','}):
		return "remove the comma before it: JSON takes none after the last item"
	case data[off] == '\'':
		return `JSON strings take double quotes: "like this"`
	}
	return ""
}

// ecsParser maps the decoded JSON to shoal's types, collecting errors and
// warnings at the place of their field.
type ecsParser struct {
	file        string
	src         *source
	errs, warns ErrorList
}

// errorf reports a problem with the field at path, unless its value, or
// the value of a parent, already failed to decode (which was reported).
func (p *ecsParser) errorf(path, format string, args ...any) {
	if p.src.decodeFailed(path) {
		return
	}
	p.errs = append(p.errs, p.at(path, fmt.Sprintf(format, args...)))
}

// fail reports a value that could not be decoded, and keeps the checks
// quiet about it.
func (p *ecsParser) fail(path, format string, args ...any) {
	p.errorf(path, format, args...)
	p.src.failed[path] = true
}

func (p *ecsParser) at(path, msg string) *Error {
	line, col := p.src.position(path)
	return &Error{File: p.file, Line: line, Column: col, Path: path, Msg: msg}
}

// fields maps the members shoal implements of one kind of JSON object to
// what reads them.
type fields map[string]func(path string, v any)

// object reads v as a JSON object: each member of fs with its reader, a
// warning for each other member. notes say what leaving out an ECS member
// means ("" when it just is ignored); keys neither read nor noted that look
// like a misspelled member get a suggestion.
func (p *ecsParser) object(path string, v any, fs fields, notes map[string]string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		p.typeError(path, "an object", v)
		return false
	}
	for key, val := range m { // in any order: the lists are sorted at the end
		read, ok := fs[key]
		switch {
		case val == nil: // null: as if absent
		case ok:
			read(joinPath(path, key), val)
		default:
			p.warns = append(p.warns, p.at(joinPath(path, key), unimplemented(key, fs, notes)))
		}
	}
	return true
}

func unimplemented(key string, fs fields, notes map[string]string) string {
	note, known := notes[key]
	if note == "" {
		note = "ignored"
	}
	if !known {
		if s, ok := closest(key, sortedKeys(fs)); ok {
			note = fmt.Sprintf("ignored (did you mean %q?)", s)
		}
	}
	return "not implemented by shoal: " + note
}

// list reads v as a JSON array of objects, each with item. A failed item
// is nil, so that the others keep their index.
func list[T any](p *ecsParser, path string, v any, item func(string, any) *T) []*T {
	a, ok := v.([]any)
	if !ok {
		p.typeError(path, "an array", v)
		return nil
	}
	items := make([]*T, len(a))
	for i, x := range a {
		items[i] = item(indexPath(path, i), x)
	}
	return items
}

func (p *ecsParser) str(path string, v any, dst *string) {
	if s, ok := v.(string); ok {
		*dst = s
		return
	}
	p.typeError(path, "a string", v)
}

func (p *ecsParser) boolean(path string, v any, dst *bool) {
	if b, ok := v.(bool); ok {
		*dst = b
		return
	}
	p.typeError(path, "true or false", v)
}

// integer reads a whole number within ECS's Integer (32 bits).
func (p *ecsParser) integer(path string, v any, dst *int) bool {
	n, ok := v.(json.Number)
	if !ok {
		p.typeError(path, "a number", v)
		return false
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil {
		p.fail(path, "expected a whole number up to %d, got %s", math.MaxInt32, n)
		return false
	}
	*dst = int(i)
	return true
}

// seconds reads a whole number of seconds, as ECS's durations.
func (p *ecsParser) seconds(path string, v any, dst *Duration) {
	var n int
	if p.integer(path, v, &n) {
		*dst = Duration(time.Duration(n) * time.Second)
	}
}

// argv reads an array of strings.
func (p *ecsParser) argv(path string, v any, dst *Command) {
	a, ok := v.([]any)
	if !ok {
		p.typeError(path, "an array of strings", v)
		return
	}
	argv := make(Command, len(a))
	for i, x := range a {
		if argv[i], ok = x.(string); !ok {
			p.typeError(indexPath(path, i), "a string", x)
			p.src.failed[path] = true
			return
		}
	}
	*dst = argv
}

// typeError reports a value of the wrong type, with the fix when the value
// was only quoted or left unquoted.
func (p *ecsParser) typeError(path, want string, v any) {
	msg := fmt.Sprintf("expected %s, got %s", want, describeJSON(v))
	switch x := v.(type) {
	case string:
		var n json.Number
		if (want == "a number" && json.Unmarshal([]byte(x), &n) == nil) || (want == "true or false" && (x == "true" || x == "false")) {
			msg += fmt.Sprintf(": write %s without quotes", x)
		} else if want == "an array of strings" {
			msg += fmt.Sprintf(": write it as an array, like [%s]", quoteAll(strings.Fields(x)))
		}
	case json.Number, bool:
		if want == "a string" {
			msg += fmt.Sprintf(`: write "%v" in quotes`, x)
		}
	}
	p.fail(path, "%s", msg)
}

func quoteAll(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = strconv.Quote(w)
	}
	return strings.Join(quoted, ", ")
}

func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case json.Number:
		return fmt.Sprintf("a number (%s)", x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "an array"
	}
	return "an object"
}

// The members of the ECS objects that shoal does not implement, with what
// that means when it is worth saying. Listing them keeps known members
// from being taken for misspellings.
var (
	taskNotes = map[string]string{
		"taskRoleArn":             "tasks get no IAM role",
		"executionRoleArn":        "no role is assumed to pull images or read secrets",
		"requiresCompatibilities": "tasks run on shoal's own instances, as the EC2 launch type",
		"volumes":                 "containers get no volumes",
		"placementConstraints":    "set the service's placement_constraints in the stack file",
		"runtimePlatform":         "containers run on this machine's operating system and architecture",
		"tags":                    "", "pidMode": "", "ipcMode": "", "proxyConfiguration": "",
		"inferenceAccelerators": "", "ephemeralStorage": "", "enableFaultInjection": "",
		"trustedExecutionConfiguration": "",
	}
	containerNotes = map[string]string{
		"logConfiguration":      "the container's output goes to shoal logs",
		"firelensConfiguration": "the container's output goes to shoal logs",
		"secrets":               "the variables are not set: give their values in environment",
		"environmentFiles":      "the files are not read: list the variables in environment",
		"mountPoints":           "the container gets no volumes",
		"volumesFrom":           "the container gets no volumes",
		"links":                 "", "hostname": "", "dnsServers": "", "dnsSearchDomains": "", "extraHosts": "",
		"dockerLabels": "", "dockerSecurityOptions": "", "linuxParameters": "", "ulimits": "",
		"privileged": "", "readonlyRootFilesystem": "", "interactive": "", "pseudoTerminal": "",
		"disableNetworking": "", "repositoryCredentials": "", "resourceRequirements": "",
		"restartPolicy": "", "startTimeout": "", "systemControls": "", "credentialSpecs": "",
		"versionConsistency": "",
	}
	portMappingNotes = map[string]string{
		"name":               "ignored (Service Connect)",
		"appProtocol":        "ignored (Service Connect)",
		"containerPortRange": "no port of the range is published: map each port with containerPort",
	}
)

func (p *ecsParser) taskDefinition(doc any) ECSTaskDefinition {
	def := ECSTaskDefinition{NetworkMode: "bridge"}
	if _, ok := doc.(map[string]any); !ok {
		p.fail("", `expected an object, got %s: the file holds one task definition, {"family": ..., "containerDefinitions": [...]}`, describeJSON(doc))
		return def
	}
	p.object("", doc, fields{
		"family":      func(at string, v any) { p.str(at, v, &def.Family) },
		"networkMode": func(at string, v any) { p.str(at, v, &def.NetworkMode) },
		"cpu":         func(at string, v any) { p.taskSize(at, v, "vCPU", &def.CPU) },
		"memory":      func(at string, v any) { p.taskSize(at, v, "GB", &def.Memory) },
		"containerDefinitions": func(at string, v any) {
			def.Containers = list(p, at, v, p.container)
		},
	}, taskNotes)
	return def
}

// taskSize reads the task-level cpu or memory, a string in ECS.
func (p *ecsParser) taskSize(path string, v any, unit string, dst *int) {
	example := map[string]string{"vCPU": `"256" (CPU units) or "0.25 vCPU"`, "GB": `"512" (MiB) or "0.5 GB"`}[unit]
	s, ok := v.(string)
	if !ok {
		p.fail(path, "expected a string like %s, got %s", example, describeJSON(v))
		return
	}
	n, ok := parseTaskSize(s, unit)
	if !ok {
		p.fail(path, "%q is not a size ECS takes: write %s", s, example)
		return
	}
	*dst = n
}

// parseTaskSize reads "256" as 256, and "0.25 vCPU" or "0.25 GB" (the unit
// in any case, the space optional) as 0.25×1024.
func parseTaskSize(s, unit string) (int, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, true
	}
	if len(s) < len(unit) || !strings.EqualFold(s[len(s)-len(unit):], unit) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s[:len(s)-len(unit)]), 64)
	n := f * 1024
	if err != nil || !(n >= 0 && n <= math.MaxInt32) || n != math.Trunc(n) {
		return 0, false
	}
	return int(n), true
}

func (p *ecsParser) container(path string, v any) *Container {
	c := &Container{}
	c.setDefaults()
	ok := p.object(path, v, fields{
		"name":              func(at string, v any) { p.str(at, v, &c.Name) },
		"image":             func(at string, v any) { p.str(at, v, &c.Image) },
		"essential":         func(at string, v any) { p.boolean(at, v, &c.Essential) },
		"command":           func(at string, v any) { p.argv(at, v, &c.Command) },
		"entryPoint":        func(at string, v any) { p.argv(at, v, &c.EntryPoint) },
		"environment":       func(at string, v any) { c.Environment = p.environment(at, v) },
		"workingDirectory":  func(at string, v any) { p.str(at, v, &c.WorkingDirectory) },
		"user":              func(at string, v any) { p.str(at, v, &c.User) },
		"portMappings":      func(at string, v any) { c.PortMappings = list(p, at, v, p.portMapping) },
		"cpu":               func(at string, v any) { p.integer(at, v, &c.CPU) },
		"memory":            func(at string, v any) { p.integer(at, v, &c.Memory) },
		"memoryReservation": func(at string, v any) { p.integer(at, v, &c.MemoryReservation) },
		"dependsOn":         func(at string, v any) { c.DependsOn = list(p, at, v, p.dependency) },
		"healthCheck":       func(at string, v any) { c.HealthCheck = p.healthCheck(at, v) },
		"stopTimeout":       func(at string, v any) { p.seconds(at, v, &c.StopTimeout) },
	}, containerNotes)
	if !ok {
		return nil
	}
	return c
}

// environment reads [{"name": ..., "value": ...}], checking each name.
func (p *ecsParser) environment(path string, v any) map[string]string {
	if _, ok := v.([]any); !ok {
		p.typeError(path, `an array of {"name": ..., "value": ...}`, v)
		return nil
	}
	vars := map[string]string{}
	first := map[string]string{} // the path of each name's first entry
	for i, e := range list(p, path, v, p.variable) {
		at := indexPath(path, i) + ".name"
		switch {
		case e == nil:
		case e.Name == "":
			p.errorf(at, "name is required: the variable's name, like NODE_ENV")
		case first[e.Name] != "":
			p.errorf(at, "%s is set twice (also in %s): keep one", e.Name, first[e.Name])
		default:
			p.envName(at, e.Name)
			first[e.Name], vars[e.Name] = parentPath(at), e.Value
		}
	}
	return vars
}

// envName checks a variable name as Validate does.
func (p *ecsParser) envName(path, name string) {
	if why, ok := reservedEnv(name); ok {
		p.errorf(path, "%s is set by shoal: %s; remove it", name, why)
	} else if !validEnvName(name) {
		p.errorf(path, "%q is not a valid environment variable name: use letters, digits and _, not starting with a digit", name)
	}
}

// variable is one entry of a container's environment.
type variable struct{ Name, Value string }

func (p *ecsParser) variable(path string, v any) *variable {
	e := &variable{}
	ok := p.object(path, v, fields{
		"name":  func(at string, v any) { p.str(at, v, &e.Name) },
		"value": func(at string, v any) { p.str(at, v, &e.Value) },
	}, nil)
	if !ok {
		return nil
	}
	return e
}

func (p *ecsParser) portMapping(path string, v any) *PortMapping {
	m := &PortMapping{}
	m.setDefaults()
	ok := p.object(path, v, fields{
		"containerPort": func(at string, v any) { p.integer(at, v, &m.ContainerPort) },
		"hostPort":      func(at string, v any) { p.integer(at, v, &m.HostPort) },
		"protocol":      func(at string, v any) { p.str(at, v, &m.Protocol) },
	}, portMappingNotes)
	if !ok {
		return nil
	}
	return m
}

// dependency reads a dependsOn entry. Its condition has no default: ECS
// requires one.
func (p *ecsParser) dependency(path string, v any) *ContainerDependency {
	d := &ContainerDependency{}
	ok := p.object(path, v, fields{
		"containerName": func(at string, v any) { p.str(at, v, &d.ContainerName) },
		"condition":     func(at string, v any) { p.str(at, v, &d.Condition) },
	}, nil)
	if !ok {
		return nil
	}
	return d
}

// healthCheck reads a container health check: its command as written,
// "CMD" or "CMD-SHELL" first, and its times in seconds.
func (p *ecsParser) healthCheck(path string, v any) *ContainerHealthCheck {
	hc := &ContainerHealthCheck{}
	hc.setDefaults() // ECS's: 30 s, 5 s, 3 retries, no start period
	ok := p.object(path, v, fields{
		"command":     func(at string, v any) { p.argv(at, v, &hc.Command) },
		"interval":    func(at string, v any) { p.seconds(at, v, &hc.Interval) },
		"timeout":     func(at string, v any) { p.seconds(at, v, &hc.Timeout) },
		"retries":     func(at string, v any) { p.integer(at, v, &hc.Retries) },
		"startPeriod": func(at string, v any) { p.seconds(at, v, &hc.StartPeriod) },
	}, nil)
	if !ok {
		return nil
	}
	return hc
}

// check checks the decoded task definition as ECS would, with the limits
// shoal's stack file has.
func (p *ecsParser) check(def *ECSTaskDefinition) {
	switch {
	case def.Family == "":
		p.errorf("family", `family is required: name the task definition, like "catalog"`)
	case !ecsName(def.Family):
		p.errorf("family", "invalid family %q: use 1-255 letters, digits, - and _", def.Family)
	}
	switch def.NetworkMode {
	case "bridge", "host":
	case "awsvpc", "none":
		p.errorf("networkMode", `shoal runs tasks in bridge or host network mode, not %s: use "bridge" (container ports mapped to host ports) or "host"`, def.NetworkMode)
	default:
		p.errorf("networkMode", `unknown network mode %q: use "bridge" or "host"`, def.NetworkMode)
	}
	switch {
	case def.Containers == nil:
		p.errorf("containerDefinitions", "containerDefinitions is required: list the task's containers, each with at least its name and image")
	case len(def.Containers) == 0:
		p.errorf("containerDefinitions", "containerDefinitions is empty: list the task's containers, each with at least its name and image")
	default:
		p.containers(def)
	}
}

// ecsName reports whether name is a valid family: ECS's rule.
func ecsName(name string) bool {
	valid := func(r rune) bool { return isAlnum(r) || r == '-' || r == '_' }
	return len(name) <= 255 && strings.IndexFunc(name, func(r rune) bool { return !valid(r) }) < 0
}

func (p *ecsParser) containers(def *ECSTaskDefinition) {
	first := map[string]string{} // the path of each name's first container
	essential, complete := false, true
	for i, c := range def.Containers {
		at := indexPath("containerDefinitions", i)
		if c == nil {
			complete = false
			continue
		}
		switch {
		case c.Name == "":
			p.errorf(at+".name", "name is required: each container has a name, unique in the task definition")
		case !validName(c.Name):
			p.errorf(at+".name", "invalid name %q: use up to 63 letters, digits, - and _, starting with a letter or digit", c.Name)
		case first[c.Name] != "":
			p.errorf(at+".name", "container %q is also defined at %s: give each container its own name", c.Name, first[c.Name])
		default:
			first[c.Name] = at
		}
		essential = essential || c.Essential
		p.checkContainer(at, c, def.NetworkMode == "host")
	}
	if complete && !essential {
		p.errorf("containerDefinitions", `no container is essential: a task needs one whose exit ends it ("essential": true)`)
	}
	p.dependencies(def.Containers)
}

// checkContainer checks the fields of one container.
func (p *ecsParser) checkContainer(at string, c *Container, host bool) {
	if c.Image == "" {
		p.errorf(at+".image", `image is required: the image the container runs, like "catalog:1"`)
	}
	for j, m := range c.PortMappings {
		if m != nil {
			p.checkPortMapping(indexPath(at+".portMappings", j), m, host)
		}
	}
	p.intRange(at+".cpu", c.CPU, 0, 16384)
	p.intRange(at+".memory", c.Memory, 0, 122880)
	p.intRange(at+".memoryReservation", c.MemoryReservation, 0, 122880)
	if c.Memory > 0 && c.MemoryReservation > c.Memory {
		p.errorf(at+".memoryReservation", "memoryReservation %d is above memory %d (the hard limit): lower it or raise memory", c.MemoryReservation, c.Memory)
	}
	p.secondsRange(at+".stopTimeout", c.StopTimeout, 0, 120)
	if c.HealthCheck != nil {
		p.checkHealthCheck(at+".healthCheck", c.HealthCheck)
	}
}

func (p *ecsParser) checkPortMapping(at string, m *PortMapping, host bool) {
	if !p.src.has(at + ".containerPort") {
		p.errorf(at+".containerPort", "containerPort is required: the port the container listens on, 1-65535")
	} else {
		p.intRange(at+".containerPort", m.ContainerPort, 1, 65535)
	}
	p.intRange(at+".hostPort", m.HostPort, 0, 65535)
	if host && m.HostPort != 0 && m.HostPort != m.ContainerPort {
		p.errorf(at+".hostPort", "in host network mode a container uses its own port on the instance: make hostPort %d, or leave it out", m.ContainerPort)
	}
	if m.Protocol != "tcp" && m.Protocol != "udp" {
		p.errorf(at+".protocol", `protocol %q is not supported: use "tcp" or "udp"`, m.Protocol)
	}
}

func (p *ecsParser) checkHealthCheck(at string, hc *ContainerHealthCheck) {
	const example = `["CMD-SHELL", "curl -f http://localhost:3000/ || exit 1"]`
	switch {
	case len(hc.Command) == 0:
		p.errorf(at+".command", "command is required: a command that exits 0 when the container is healthy, like %s", example)
	case hc.Command[0] == "CMD-SHELL" && len(hc.Command) != 2:
		p.errorf(at+".command", "CMD-SHELL takes exactly one string, the shell command: %s", example)
	case hc.Command[0] == "CMD" && len(hc.Command) < 2:
		p.errorf(at+".command", `CMD needs the program to run: ["CMD", "/bin/check", "arg"]`)
	case hc.Command[0] != "CMD" && hc.Command[0] != "CMD-SHELL":
		p.errorf(at+".command", `command starts with "CMD" (run the rest as is) or "CMD-SHELL" (run one string with the shell), as in %s`, example)
	}
	p.secondsRange(at+".interval", hc.Interval, 5, 300)
	p.secondsRange(at+".timeout", hc.Timeout, 2, 60)
	p.intRange(at+".retries", hc.Retries, 1, 10)
	p.secondsRange(at+".startPeriod", hc.StartPeriod, 0, 300)
}

// dependencies checks each dependsOn: another container of the task, a
// known condition, and a health check to wait for with HEALTHY.
func (p *ecsParser) dependencies(cs []*Container) {
	byName := map[string]*Container{}
	for _, c := range cs {
		if c != nil {
			byName[c.Name] = c
		}
	}
	for i, c := range cs {
		for j, d := range containerDeps(c) {
			at := indexPath(indexPath("containerDefinitions", i)+".dependsOn", j)
			if d != nil {
				p.checkDependency(at, c.Name, d, byName)
			}
		}
	}
}

func containerDeps(c *Container) []*ContainerDependency {
	if c == nil {
		return nil
	}
	return c.DependsOn
}

func (p *ecsParser) checkDependency(at, name string, d *ContainerDependency, byName map[string]*Container) {
	dep, ok := byName[d.ContainerName]
	switch {
	case d.ContainerName == "":
		p.errorf(at+".containerName", "containerName is required: the container this one waits for")
	case d.ContainerName == name:
		p.errorf(at+".containerName", "container %q depends on itself", name)
	case !ok:
		p.errorf(at+".containerName", "%s", noSuch("container", "containerDefinitions", d.ContainerName, sortedKeys(byName)))
	case d.Condition == "HEALTHY" && dep.HealthCheck == nil:
		p.errorf(at+".condition", "container %q has no healthCheck, so it never turns HEALTHY: give it one, or wait for START", d.ContainerName)
	}
	switch {
	case d.Condition == "":
		p.errorf(at+".condition", "condition is required: START, COMPLETE, SUCCESS or HEALTHY")
	case !slices.Contains(dependsConditions, d.Condition):
		p.errorf(at+".condition", "condition %q is not supported: use START, COMPLETE, SUCCESS or HEALTHY", d.Condition)
	}
}

// intRange checks that the number at path is within lo-hi.
func (p *ecsParser) intRange(path string, n, lo, hi int) {
	if n < lo || n > hi {
		p.errorf(path, "%s %d is out of range: use %d-%d", lastField(path), n, lo, hi)
	}
}

// secondsRange checks that the duration at path is within lo-hi seconds.
func (p *ecsParser) secondsRange(path string, d Duration, lo, hi int) {
	if s := int(d.D() / time.Second); s < lo || s > hi {
		p.errorf(path, "%s %d is out of range: ECS takes %d-%d seconds", lastField(path), s, lo, hi)
	}
}

func lastField(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }
