package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// maxBody is the largest request body taken: ECS's RegisterTaskDefinition,
// the largest request served, is limited to 64 KiB by AWS; the margin is
// for encodings.
const maxBody = 1 << 20

// ecsTargetPrefix starts every ECS operation's X-Amz-Target.
const ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."

// Signing names: the service in a signature's credential scope.
const (
	ecsSigningName   = "ecs"
	elbv2SigningName = "elasticloadbalancing"
)

// api serves both services for one Backend.
type api struct {
	b   Backend
	cfg Config
	log *slog.Logger
	// now is the clock signatures are checked against.
	now func() time.Time
}

// Handler serves the ECS and ELBv2 APIs for b.
func Handler(b Backend, cfg Config, log *slog.Logger) http.Handler {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return &api{b: b, cfg: cfg, log: log, now: time.Now}
}

// ServeHTTP tells the protocol from the request, as AWS's endpoints do,
// checks the signature, and hands the request to the service.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", requestID())
	jsonProtocol := r.Header.Get("X-Amz-Target") != ""
	fail := func(e *Error) {
		if jsonProtocol {
			writeJSONError(w, e)
		} else {
			writeQueryError(w, e)
		}
	}
	if r.Method != http.MethodPost && (jsonProtocol || r.Method != http.MethodGet) {
		fail(clientError("InvalidAction", "use POST (or GET for the query protocol), not "+r.Method))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(&Error{Code: "RequestEntityTooLarge", Status: http.StatusRequestEntityTooLarge, Message: "request body is larger than 1 MiB", Sender: true})
			return
		}
		fail(clientError("IncompleteBody", "reading the request body: "+err.Error()))
		return
	}
	service := elbv2SigningName
	if jsonProtocol {
		service = ecsSigningName
	}
	if e := a.authenticate(r, body, service, jsonProtocol); e != nil {
		fail(e)
		return
	}
	if jsonProtocol {
		op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ecsTargetPrefix)
		if !ok {
			fail(clientError("UnknownOperationException", "X-Amz-Target "+r.Header.Get("X-Amz-Target")+" names no ECS operation: it must start with "+ecsTargetPrefix))
			return
		}
		a.serveECS(w, r, op, body)
		return
	}
	a.serveELBv2(w, r, body)
}

// requestID makes a request id in AWS's form (a UUID).
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
