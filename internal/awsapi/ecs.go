package awsapi

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
)

// The ECS API over the AWS JSON 1.1 protocol: a POST whose X-Amz-Target
// names the operation and whose body is a JSON object of the request's
// members (camelCase, as in the ECS API reference); the answer is a JSON
// object, application/x-amz-json-1.1, timestamps in epoch seconds.
//
// Each operation declares every member ECS's request structure has (see
// members): the ones shoal reads, the purely descriptive ones it accepts and
// drops (tags), and the ones it cannot honour, refused with
// InvalidParameterException naming them unless their value asks for nothing
// (null, false, "", [], {}) or for what shoal does anyway. Members ECS does
// not have are ignored, as AWS's JSON services do, so that a newer client's
// additions never break a call; ecs_members_test.go checks the declarations
// against the SDK's model, so that no member of ECS's is ignored unseen.

// ecsContentType is the JSON 1.1 protocol's media type.
const ecsContentType = "application/x-amz-json-1.1"

// ECS error codes (ECS API reference, each operation's Errors, and the
// AWS JSON protocol's SerializationException).
const (
	codeClient           = "ClientException"
	codeServer           = "ServerException"
	codeInvalidParameter = "InvalidParameterException"
	codeClusterNotFound  = "ClusterNotFoundException"
	codeServiceNotFound  = "ServiceNotFoundException"
	codeSerialization    = "SerializationException"
)

// ecsOp is one operation: it reads its request from body and returns the
// response to encode.
type ecsOp func(a *api, body []byte) (any, *Error)

// ecsOps are the operations shoal serves.
var ecsOps = map[string]ecsOp{
	"ListClusters":                  (*api).ecsListClusters,
	"DescribeClusters":              (*api).ecsDescribeClusters,
	"ListServices":                  (*api).ecsListServices,
	"DescribeServices":              (*api).ecsDescribeServices,
	"UpdateService":                 (*api).ecsUpdateService,
	"ListTasks":                     (*api).ecsListTasks,
	"DescribeTasks":                 (*api).ecsDescribeTasks,
	"StopTask":                      (*api).ecsStopTask,
	"RegisterTaskDefinition":        (*api).ecsRegisterTaskDefinition,
	"DescribeTaskDefinition":        (*api).ecsDescribeTaskDefinition,
	"ListTaskDefinitions":           (*api).ecsListTaskDefinitions,
	"DeregisterTaskDefinition":      (*api).ecsDeregisterTaskDefinition,
	"ListContainerInstances":        (*api).ecsListContainerInstances,
	"DescribeContainerInstances":    (*api).ecsDescribeContainerInstances,
	"UpdateContainerInstancesState": (*api).ecsUpdateContainerInstancesState,
}

// serveECS runs the ECS operation op (JSON 1.1 protocol).
func (a *api) serveECS(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	run, ok := ecsOps[op]
	if !ok {
		writeJSONError(w, unsupported("ecs", op))
		return
	}
	out, e := run(a, body)
	if e != nil {
		if e.Status >= 500 && a.log != nil {
			a.log.Error("ecs "+op, "code", e.Code, "err", e.Message)
		}
		writeJSONError(w, e)
		return
	}
	b, err := json.Marshal(out)
	if err != nil { // every response is plain data
		writeJSONError(w, serverError(codeServer, "encoding the response: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", ecsContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writeJSONError writes e in the JSON 1.1 protocol's error shape: the code
// in X-Amzn-Errortype and in the body's __type, with the message.
func writeJSONError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", ecsContentType)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	w.Write(b)
}

// Members of request structures.

// memberKind is how shoal takes a member of a request structure.
type memberKind int

const (
	memberUsed    memberKind = iota + 1 // read by the operation
	memberIgnored                       // descriptive: accepted, dropped
	memberRefused                       // refused unless it asks for nothing
)

// member declares one member of an ECS request structure.
type member struct {
	kind memberKind
	// ok, for a refused member, accepts the values shoal honours as they
	// are (ECS's default, or what shoal does anyway).
	ok func(raw json.RawMessage) bool
	// why says, for a refused member, what shoal does instead.
	why string
	// code is the error a refused member gets ("": InvalidParameterException).
	code string
}

// accepts reports whether a refused member's value asks for nothing
// shoal cannot do: null, or a value ok accepts; without ok, any empty
// value (null, false, "", [], {}).
func (m member) accepts(raw json.RawMessage) bool {
	if m.ok == nil {
		return emptyJSON(raw)
	}
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || m.ok(raw)
}

// members are a structure's members by their JSON name.
type members map[string]member

var (
	used    = member{kind: memberUsed}
	ignored = member{kind: memberIgnored}
)

func refused(why string) member { return member{kind: memberRefused, why: why} }

func refusedUnless(ok func(json.RawMessage) bool, why string) member {
	return member{kind: memberRefused, ok: ok, why: why}
}

// isValue accepts the JSON values equal to want (compared decoded).
func isValue(want any) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return false
		}
		w, _ := json.Marshal(want)
		var wv any
		json.Unmarshal(w, &wv)
		return fmt.Sprint(v) == fmt.Sprint(wv)
	}
}

// emptyJSON reports whether raw asks for nothing: absent, null, false, "",
// [], {}.
func emptyJSON(raw json.RawMessage) bool {
	if len(bytes.TrimSpace(raw)) == 0 { // absent
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// check refuses the members of the JSON object raw that shoal cannot
// honour; path names the object in messages ("" for the request itself,
// "containerDefinitions[0]." for a nested one).
func (ms members) check(path string, raw json.RawMessage) *Error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return serializationError(path, err)
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m, known := ms[name]
		if !known || m.kind != memberRefused || m.accepts(obj[name]) {
			continue
		}
		code := cmp.Or(m.code, codeInvalidParameter)
		return clientError(code, fmt.Sprintf("shoal does not support %s%s: %s", path, name, m.why))
	}
	return nil
}

// decodeRequest reads the request body into req and refuses the members
// ms declares shoal cannot honour. An empty body is an empty request.
func decodeRequest(body []byte, req any, ms members) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return serializationError("", err)
	}
	if err := json.Unmarshal(body, req); err != nil {
		return serializationError("", err)
	}
	return ms.check("", body)
}

// serializationError is a body that does not decode as the request's
// structure: not JSON, or a member of the wrong type.
func serializationError(path string, err error) *Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return clientError(codeSerialization, fmt.Sprintf("member %s%s must be %s, not a JSON %s", path, te.Field, jsonKind(te.Type), te.Value))
	case errors.As(err, &te):
		return clientError(codeSerialization, fmt.Sprintf("%s must be %s, not a JSON %s", cmp.Or(strings.TrimSuffix(path, "."), "the request body"), jsonKind(te.Type), te.Value))
	case errors.As(err, &se):
		return clientError(codeSerialization, fmt.Sprintf("the request body is not valid JSON (at byte %d): %v", se.Offset, err))
	}
	return clientError(codeSerialization, "the request body does not decode: "+err.Error())
}

// jsonKind names the JSON a Go type is read from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

func invalidParameter(format string, args ...any) *Error {
	return clientError(codeInvalidParameter, fmt.Sprintf(format, args...))
}

func ecsClientError(format string, args ...any) *Error {
	return clientError(codeClient, fmt.Sprintf(format, args...))
}

// The cluster.

// ecsCluster is the stack's one cluster, as one request sees it.
type ecsCluster struct {
	arns
	st agent.Status
	b  Backend
}

// cluster resolves a request's cluster member: omitted, the stack's name
// or its ARN name the stack's cluster; anything else is not found.
func (a *api) cluster(ref string) (ecsCluster, *Error) {
	st := a.b.Status()
	c := ecsCluster{arns: arns{region: a.cfg.Region, cluster: st.Stack}, st: st, b: a.b}
	if st.Stack == "" {
		return c, clientError(codeClusterNotFound, "Cluster not found. No stack is running, so shoal serves no cluster.")
	}
	if ref != "" && ref != st.Stack && ref != c.clusterARN() {
		return c, clientError(codeClusterNotFound, fmt.Sprintf("Cluster not found. shoal serves one cluster, the stack's: %s (%s).", st.Stack, c.clusterARN()))
	}
	return c, nil
}

// resourceName is the name a reference to one of the cluster's resources
// of kind ("service", "task", "container-instance") gives: the reference
// itself, or the last part of its ARN when the ARN is this cluster's
// (arn:aws:ecs:REGION:ACCOUNT:KIND/CLUSTER/NAME, or ECS's older
// KIND/NAME). ok is false for an ARN that names something else.
func (c ecsCluster) resourceName(kind, ref string) (name string, ok bool) {
	rest, isARN := strings.CutPrefix(ref, "arn:")
	if !isARN {
		return ref, ref != ""
	}
	rest, ok = strings.CutPrefix("arn:"+rest, c.prefix("ecs")+kind+"/")
	if !ok {
		return "", false
	}
	if cl, n, nested := strings.Cut(rest, "/"); nested {
		return n, cl == c.cluster && n != "" && !strings.Contains(n, "/")
	}
	return rest, rest != ""
}

// Pagination.

// page returns the items after the one nextToken names, at most
// maxResults of them (def when not given, at most 100, as ECS), and the
// token of the next page ("" at the end). items are sorted by compare on
// their key; a token is the last key returned, so a page starts after it
// even when items came or went in between.
func page[T any](items []T, key func(T) string, compare func(a, b string) int, nextToken string, maxResults *int, def int) ([]T, string, *Error) {
	n := def
	if maxResults != nil {
		n = *maxResults
		if n < 1 || n > 100 {
			return nil, "", invalidParameter("maxResults must be between 1 and 100, not %d.", n)
		}
	}
	start := 0
	if nextToken != "" {
		last, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || len(last) == 0 {
			return nil, "", invalidParameter("Invalid nextToken %q: pass the nextToken of the previous page as it came.", nextToken)
		}
		start = len(items)
		for i, it := range items {
			if compare(key(it), string(last)) > 0 {
				start = i
				break
			}
		}
	}
	end := min(start+n, len(items))
	out := items[start:end]
	if end == len(items) || len(out) == 0 {
		return out, "", nil
	}
	return out, base64.RawURLEncoding.EncodeToString([]byte(key(out[len(out)-1]))), nil
}

// Response values.

// epoch is a timestamp as the JSON 1.1 protocol writes it: seconds since
// the epoch, as a number with milliseconds.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', -1, 64), nil
}

// timestamp is t for an optional member: nil when t is zero.
func timestamp(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func timestampPtr(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	return timestamp(*t)
}

// ecsFailure is an item a Describe operation could not find.
type ecsFailure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// missing is ECS's failure for a resource that does not exist.
func missing(arn string) ecsFailure { return ecsFailure{Arn: arn, Reason: "MISSING"} }

// backendError maps an error of the backend: notFound and invalid are the
// operation's codes for agent.ErrNotFound and agent.ErrInvalid.
func backendError(err error, notFound, invalid string) *Error {
	return asError(err, notFound, invalid, codeServer)
}

// Clusters.

type ecsClusterJSON struct {
	ClusterArn                        string `json:"clusterArn"`
	ClusterName                       string `json:"clusterName"`
	Status                            string `json:"status"`
	RegisteredContainerInstancesCount int    `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int    `json:"runningTasksCount"`
	PendingTasksCount                 int    `json:"pendingTasksCount"`
	ActiveServicesCount               int    `json:"activeServicesCount"`
}

var listClustersMembers = members{"maxResults": used, "nextToken": used}

func (a *api) ecsListClusters(body []byte) (any, *Error) {
	var req struct {
		MaxResults *int   `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if e := decodeRequest(body, &req, listClustersMembers); e != nil {
		return nil, e
	}
	var arnList []string
	if c, e := a.cluster(""); e == nil {
		arnList = append(arnList, c.clusterARN())
	}
	out, next, e := page(arnList, func(s string) string { return s }, strings.Compare, req.NextToken, req.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	return struct {
		ClusterArns []string `json:"clusterArns"`
		NextToken   string   `json:"nextToken,omitempty"`
	}{nonNil(out), next}, nil
}

var describeClustersMembers = members{"clusters": used, "include": ignored}

func (a *api) ecsDescribeClusters(body []byte) (any, *Error) {
	var req struct {
		Clusters []string `json:"clusters"`
	}
	if e := decodeRequest(body, &req, describeClustersMembers); e != nil {
		return nil, e
	}
	refs := req.Clusters
	if len(refs) == 0 {
		refs = []string{""}
	}
	if len(refs) > 100 {
		return nil, invalidParameter("clusters can name at most 100 clusters, not %d.", len(refs))
	}
	out := struct {
		Clusters []ecsClusterJSON `json:"clusters"`
		Failures []ecsFailure     `json:"failures"`
	}{Clusters: []ecsClusterJSON{}, Failures: []ecsFailure{}}
	for _, ref := range refs {
		c, e := a.cluster(ref)
		if e != nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = arns{region: a.cfg.Region, cluster: cmp.Or(ref, "default")}.clusterARN()
			}
			out.Failures = append(out.Failures, missing(arn))
			continue
		}
		cl := ecsClusterJSON{
			ClusterArn: c.clusterARN(), ClusterName: c.cluster, Status: "ACTIVE",
			RegisteredContainerInstancesCount: len(a.b.Instances()),
			ActiveServicesCount:               len(c.st.Services),
		}
		for _, t := range a.b.Tasks(false) {
			switch t.LastStatus {
			case "RUNNING":
				cl.RunningTasksCount++
			case "PROVISIONING", "PENDING", "ACTIVATING":
				cl.PendingTasksCount++
			}
		}
		out.Clusters = append(out.Clusters, cl)
	}
	return out, nil
}

// nonNil makes a nil slice an empty one, for members ECS always lists.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
