package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

// ErrNotRunning is returned when no shoal listens on the socket.
var ErrNotRunning = errors.New("shoal is not running")

// Client talks to a running shoal over its admin socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}}
}

// Status fetches the stack's status.
func (c *Client) Status(ctx context.Context) (agent.Status, error) {
	var s agent.Status
	return s, c.getJSON(ctx, "/v1/status", &s)
}

// SecurityGroups fetches the stack's security groups, their members and
// what they guard.
func (c *Client) SecurityGroups(ctx context.Context) (agent.SecurityView, error) {
	var v agent.SecurityView
	return v, c.getJSON(ctx, "/v1/security-groups", &v)
}

// Tasks lists tasks; with all, stopped ones too.
func (c *Client) Tasks(ctx context.Context, all bool) ([]agent.TaskStatus, error) {
	var ts []agent.TaskStatus
	path := "/v1/tasks"
	if all {
		path += "?all=1"
	}
	return ts, c.getJSON(ctx, path, &ts)
}

// Task returns the task whose id is ref or, failing that, starts with ref.
// It fails matching agent.ErrNotFound for no such task, and
// agent.ErrAmbiguous (with the server's message naming them) for several.
func (c *Client) Task(ctx context.Context, ref string) (agent.TaskStatus, error) {
	var t agent.TaskStatus
	return t, c.getJSON(ctx, "/v1/tasks/"+url.PathEscape(ref), &t)
}

// Targets lists target health.
func (c *Client) Targets(ctx context.Context) ([]proxy.TargetHealth, error) {
	var ts []proxy.TargetHealth
	return ts, c.getJSON(ctx, "/v1/targets", &ts)
}

// Events returns events after seq.
func (c *Client) Events(ctx context.Context, seq int64) ([]agent.Event, error) {
	var es []agent.Event
	return es, c.getJSON(ctx, "/v1/events?since="+strconv.FormatInt(seq, 10), &es)
}

// Logs returns a task's output from offset from, and the offset to go on
// from. id may be a unique prefix of the task's id, as for Task.
func (c *Client) Logs(ctx context.Context, id string, from int64) ([]byte, int64, error) {
	resp, err := c.get(ctx, "/v1/tasks/"+url.PathEscape(id)+"/logs?from="+strconv.FormatInt(from, 10))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	next, err := strconv.ParseInt(resp.Header.Get(LogNextHeader), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("admin API: bad %s header", LogNextHeader)
	}
	return data, next, nil
}

// Deploy sends a stack file's content to the running shoal.
func (c *Client) Deploy(ctx context.Context, req StackRequest) ([]agent.Started, error) {
	var out []agent.Started
	return out, c.do(ctx, http.MethodPost, "/v1/stack", req, &out)
}

// Services lists the services with their deployments.
func (c *Client) Services(ctx context.Context) ([]agent.ServiceStatus, error) {
	var out []agent.ServiceStatus
	return out, c.getJSON(ctx, "/v1/services", &out)
}

// SetDesired sets a service's desired count.
func (c *Client) SetDesired(ctx context.Context, service string, n int) error {
	return c.do(ctx, http.MethodPut, "/v1/services/"+url.PathEscape(service)+"/desired", DesiredRequest{Desired: n}, nil)
}

// Instances lists the container instances.
func (c *Client) Instances(ctx context.Context) ([]agent.InstanceStatus, error) {
	var out []agent.InstanceStatus
	return out, c.getJSON(ctx, "/v1/instances", &out)
}

// InstanceAction drains, activates or stops an instance.
func (c *Client) InstanceAction(ctx context.Context, name, action string) error {
	return c.do(ctx, http.MethodPost, "/v1/instances/"+url.PathEscape(name)+"/"+url.PathEscape(action), struct{}{}, nil)
}

// Rules lists every listener's rules.
func (c *Client) Rules(ctx context.Context) ([]proxy.ListenerRules, error) {
	var out []proxy.ListenerRules
	return out, c.getJSON(ctx, "/v1/rules", &out)
}

// Explain asks where a request would go, and why.
func (c *Client) Explain(ctx context.Context, req proxy.ExplainRequest) (proxy.Explanation, error) {
	var out proxy.Explanation
	return out, c.do(ctx, http.MethodPost, "/v1/explain", req, &out)
}

// InjectFault injects a fault and returns it.
func (c *Client) InjectFault(ctx context.Context, req fault.Request) (fault.Fault, error) {
	var out fault.Fault
	return out, c.do(ctx, http.MethodPost, "/v1/faults", req, &out)
}

// Faults lists the active faults.
func (c *Client) Faults(ctx context.Context) ([]fault.Fault, error) {
	var out []fault.Fault
	return out, c.getJSON(ctx, "/v1/faults", &out)
}

// RemoveFault ends an active fault.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	resp, err := c.send(ctx, http.MethodDelete, "/v1/faults/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// do sends body as JSON with method and decodes the answer into out (when
// not nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, method, path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// get performs a GET and turns transport failures and error answers into
// errors; the caller closes the body of a 2xx response.
func (c *Client) get(ctx context.Context, path string) (*http.Response, error) {
	return c.send(ctx, http.MethodGet, path, nil)
}

// send performs a request and turns transport failures and error answers
// into errors; the caller closes the body of a 2xx response.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://shoal"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no admin socket at %s): start it with `shoal up`, or pass the --state-dir it runs with", ErrNotRunning, c.socket)
		}
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var body errorBody
		json.NewDecoder(resp.Body).Decode(&body)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return nil, &kindError{msg: body.Error, kind: agent.ErrNotFound}
		case http.StatusConflict:
			return nil, &kindError{msg: body.Error, kind: agent.ErrAmbiguous}
		case http.StatusBadRequest:
			return nil, &kindError{msg: body.Error, kind: ErrBadRequest}
		}
		return nil, fmt.Errorf("admin API: %s (%s)", body.Error, resp.Status)
	}
	return resp, nil
}

// kindError is an error answer whose status names its kind (404 a task not
// found, 409 an ambiguous prefix): it reads as the server's message and
// matches the agent's error of that kind with errors.Is.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
