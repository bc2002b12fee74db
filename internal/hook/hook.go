// Package hook runs one invocation of a deployment lifecycle hook, the way
// ECS invokes a hook's Lambda function at a stage of a blue/green, canary or
// linear deployment; here the hook is a local command or an HTTP URL.
//
// Run carries out exactly one call and reports its verdict. Deciding when to
// call again (after an IN_PROGRESS, on its CallBackDelay or the caller's
// default of 30 s as ECS waits), and what a FAILED means for the deployment
// (a rollback), is the caller's.
//
// # What the hook is told
//
// Payload is the JSON the hook receives: ECS's Lambda event for lifecycle
// hooks, plus a "shoal" object with what a local hook needs to reach the
// new revision:
//
//	{
//	  "executionId": "…",          // the same on every call of one stage of one deployment
//	  "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
//	  "resourceArn": "…",          // the service deployment
//	  "executionDetails": {
//	    "testTrafficWeights": {"<service revision ARN>": 100},
//	    "productionTrafficWeights": {"<service revision ARN>": 100},
//	    "serviceArn": "…",
//	    "targetServiceRevisionArn": "…"
//	  },
//	  "shoal": {"testUrl": "…", "productionUrl": "…", "greenTargetGroup": "…"}
//	}
//
// The weight maps are always objects ({} when empty), never null.
//
// # Command hooks
//
// Command is an argv, not a shell line. Its program is looked up the way a
// shell would: a name with a slash relative to Dir, a bare name along the
// PATH the command will see (Env's PATH when it sets one). It runs in Dir
// (shoal's own working directory when empty) with shoal's environment plus
// Env plus these, which win over both:
//
//	SHOAL_HOOK_PAYLOAD    the payload
//	SHOAL_HOOK_STAGE      the lifecycle stage
//	SHOAL_TEST_URL        the URL of the test listener
//	SHOAL_PRODUCTION_URL  the URL of the production listener
//
// The payload is also on its standard input. The command runs in a process
// group of its own. When it outlasts Timeout, the whole group is killed with
// SIGKILL and the verdict is FAILED, "timed out after <Timeout>" followed by
// the last lines of output as below; when the caller's ctx is done first,
// likewise, and the reason is just "cancelled". When
// the command exits, whatever it left running in its group is killed too: a
// hook is one call, not a way to start daemons.
//
// The verdict: when the last non-empty line of the command's standard output
// is a JSON object with a "hookStatus" field, as a Lambda function returns,
// for instance {"hookStatus":"IN_PROGRESS","callBackDelay":10}, that answer
// is the verdict, whatever the exit status. Otherwise exit status 0 is
// SUCCEEDED and anything else FAILED, the reason saying the exit status (or
// the signal that killed it) and the last 5 non-empty lines of its standard
// output and error, joined with " | ", each cut at 200 bytes. A command that
// cannot start (not found, not executable, no such Dir) is FAILED saying
// why. Only the last 64 KiB of each of standard output and the combined
// output are kept.
//
// # URL hooks
//
// The payload is POSTed to URL with Content-Type application/json; the
// request, including reading the answer, must finish within Timeout.
// Redirects are not followed. The verdict: a 2xx answer with an empty body
// (or only white space) is SUCCEEDED; a 2xx answer whose body is a JSON
// object with a "hookStatus" field is that answer's verdict; anything else is
// FAILED: a status other than 2xx ("answered 503 Service Unavailable: <the
// first 200 bytes of the body>"; a redirect names its Location), a body that
// is not such an object, a body over 1 MiB, a connection error, a timeout
// ("timed out after <Timeout>") or the caller's ctx ("cancelled").
//
// # Answers
//
// An answer is a JSON object with "hookStatus": "SUCCEEDED", "FAILED" or
// "IN_PROGRESS" (exactly so: any other value, or one that is not a string,
// is FAILED, "answered hookStatus \"X\": want SUCCEEDED, FAILED or
// IN_PROGRESS"). With IN_PROGRESS, an optional "callBackDelay" is how many
// seconds to wait before calling again (a number, 0 or more; 0 or absent is
// the caller's default); any other callBackDelay is FAILED. Shoal's
// addition: an optional "reason" string with FAILED is shown to the user.
// Other fields (ECS's "hookDetails" among them) are ignored.
//
// Timeout is one invocation's limit (a Lambda's timeout, which ECS caps at
// 15 minutes); the caller fills in the default. A Timeout of 0 or less sets
// no limit of Run's own: only ctx ends the call.
package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Hook is one lifecycle hook: a command or a URL (Validate says which are
// well formed).
type Hook struct {
	Command []string          // argv, run in Dir with Env added to shoal's environment; or
	URL     string            // http(s) URL, POSTed to
	Dir     string            // the command's working directory; shoal's own when empty
	Env     map[string]string // added to the command's environment
	Timeout time.Duration     // one invocation's limit (ECS: a Lambda's timeout, at most 15 min); the caller fills the default
}

// Request is what the hook is told, in ECS's payload shape.
type Request struct {
	ExecutionID              string         // stable for the deployment+stage (repeated IN_PROGRESS calls carry the same)
	LifecycleStage           string         // "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"
	ResourceARN              string         // the service deployment's ARN
	ServiceARN               string         // the service's ARN
	TargetServiceRevisionARN string         // the ARN of the revision being deployed
	TestTrafficWeights       map[string]int // by service revision ARN → weight %
	ProductionTrafficWeights map[string]int // by service revision ARN → weight %
	// Shoal's additions for local hooks: the URLs that reach the test and
	// production listeners, the green target group.
	TestURL, ProductionURL, GreenTargetGroup string
}

// Status is a hook's verdict, as ECS's hookStatus.
type Status string

// The verdicts.
const (
	Succeeded  Status = "SUCCEEDED"
	Failed     Status = "FAILED"
	InProgress Status = "IN_PROGRESS"
)

// Result is the outcome of one invocation.
type Result struct {
	Status        Status
	CallBackDelay time.Duration // when InProgress: how long before calling again (0: caller's default)
	Reason        string        // for Failed: why, one line, shown to the user
}

// MaxTimeout is the longest Timeout Validate accepts: a Lambda's limit.
const MaxTimeout = 15 * time.Minute

// Validate checks h: exactly one of Command and URL; a command's program
// named; a URL http or https with a host; Env names well formed; Timeout
// not negative nor over MaxTimeout (0 is left for the caller to fill).
func Validate(h Hook) error {
	switch {
	case len(h.Command) > 0 && h.URL != "":
		return errors.New("hook has both a command and a URL: give one")
	case len(h.Command) == 0 && h.URL == "":
		return errors.New("hook has neither a command nor a URL: give one")
	case len(h.Command) > 0 && h.Command[0] == "":
		return errors.New("hook command: the program's name is empty")
	case h.Timeout < 0:
		return fmt.Errorf("hook timeout %v: must not be negative", h.Timeout)
	case h.Timeout > MaxTimeout:
		return fmt.Errorf("hook timeout %v: at most %v", h.Timeout, MaxTimeout)
	}
	for name := range h.Env {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return fmt.Errorf("hook env name %q: must be non-empty, without '=' or NUL", name)
		}
	}
	if h.URL != "" {
		return validateURL(h.URL)
	}
	return nil
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("hook URL %q: %v", raw, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("hook URL %q: the scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("hook URL %q: no host", raw)
	}
	return nil
}

// unwrapURLError drops url.Parse's repetition of the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Run invokes h once with req and returns its verdict; ctx cancels it (the
// process group is killed). An invalid h is Failed with Validate's error.
func Run(ctx context.Context, h Hook, req Request) Result {
	if err := Validate(h); err != nil {
		return failed(err.Error())
	}
	if ctx.Err() != nil {
		return failed(reasonCancelled)
	}
	if h.URL != "" {
		return runURL(ctx, h, req)
	}
	return runCommand(ctx, h, req)
}

const reasonCancelled = "cancelled"

func failed(reason string) Result { return Result{Status: Failed, Reason: reason} }

func timedOut(d time.Duration) string { return fmt.Sprintf("timed out after %v", d) }

// payload is Payload's JSON shape.
type payload struct {
	ExecutionID      string           `json:"executionId"`
	LifecycleStage   string           `json:"lifecycleStage"`
	ResourceARN      string           `json:"resourceArn"`
	ExecutionDetails executionDetails `json:"executionDetails"`
	Shoal            shoalDetails     `json:"shoal"`
}

type executionDetails struct {
	TestTrafficWeights       map[string]int `json:"testTrafficWeights"`
	ProductionTrafficWeights map[string]int `json:"productionTrafficWeights"`
	ServiceARN               string         `json:"serviceArn"`
	TargetServiceRevisionARN string         `json:"targetServiceRevisionArn"`
}

type shoalDetails struct {
	TestURL          string `json:"testUrl"`
	ProductionURL    string `json:"productionUrl"`
	GreenTargetGroup string `json:"greenTargetGroup"`
}

// Payload is the JSON the hook receives: ECS's Lambda event for lifecycle
// hooks ({"executionId", "lifecycleStage", "resourceArn", "executionDetails":
// {"testTrafficWeights", "productionTrafficWeights", "serviceArn",
// "targetServiceRevisionArn"}}) plus a "shoal" object with the additions
// ("testUrl", "productionUrl", "greenTargetGroup"). Weights are {} when
// empty; keys come out sorted, so equal requests give equal bytes.
func Payload(req Request) []byte {
	p := payload{
		ExecutionID:    req.ExecutionID,
		LifecycleStage: req.LifecycleStage,
		ResourceARN:    req.ResourceARN,
		ExecutionDetails: executionDetails{
			TestTrafficWeights:       orEmpty(req.TestTrafficWeights),
			ProductionTrafficWeights: orEmpty(req.ProductionTrafficWeights),
			ServiceARN:               req.ServiceARN,
			TargetServiceRevisionARN: req.TargetServiceRevisionARN,
		},
		Shoal: shoalDetails{
			TestURL:          req.TestURL,
			ProductionURL:    req.ProductionURL,
			GreenTargetGroup: req.GreenTargetGroup,
		},
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("hook: marshal payload: " + err.Error()) // strings and ints always marshal
	}
	return b
}

func orEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// parseAnswer reads b as a hook's answer. ok is false when b is not a JSON
// object with a "hookStatus" field, which leaves the verdict to the caller.
func parseAnswer(b []byte) (r Result, ok bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return Result{}, false
	}
	raw, ok := fields["hookStatus"]
	if !ok {
		return Result{}, false
	}
	var status string
	if err := json.Unmarshal(raw, &status); err != nil {
		return failed(fmt.Sprintf("answered hookStatus %s: want SUCCEEDED, FAILED or IN_PROGRESS", oneLine(string(raw), snippetBytes))), true
	}
	switch Status(status) {
	case Succeeded:
		return Result{Status: Succeeded}, true
	case Failed:
		reason := "answered hookStatus FAILED"
		var why string
		if err := json.Unmarshal(fields["reason"], &why); err == nil && strings.TrimSpace(why) != "" {
			reason += ": " + oneLine(why, snippetBytes)
		}
		return failed(reason), true
	case InProgress:
		d, err := callBackDelay(fields["callBackDelay"])
		if err != nil {
			return failed(err.Error()), true
		}
		return Result{Status: InProgress, CallBackDelay: d}, true
	}
	return failed(fmt.Sprintf("answered hookStatus %s: want SUCCEEDED, FAILED or IN_PROGRESS", strconv.Quote(oneLine(status, snippetBytes)))), true
}

// maxCallBackDelay is the longest callBackDelay that fits a Duration.
const maxCallBackDelay = float64(math.MaxInt64 / int64(time.Second))

// callBackDelay reads an answer's callBackDelay, in seconds; absent or null
// is 0, the caller's default.
func callBackDelay(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > maxCallBackDelay {
		return 0, fmt.Errorf("answered callBackDelay %s: want a number of seconds, 0 or more", oneLine(string(raw), snippetBytes))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// snippetBytes is how much of a body, a line or a value a reason quotes.
const snippetBytes = 200

// oneLine is s on one line (runs of white space, line breaks included, made
// one space), cut at max bytes on a character boundary with "…" when longer.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
