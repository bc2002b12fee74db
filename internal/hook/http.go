package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBodyBytes is the most of an answer's body that is read.
const maxBodyBytes = 1 << 20

// client posts to URL hooks. It follows no redirect (the 3xx is the
// answer) and keeps no connection between calls, which are seconds apart.
var client = &http.Client{
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		return t
	}(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// runURL posts the payload to h.URL once and reads the verdict from the
// answer.
func runURL(ctx context.Context, h Hook, req Request) Result {
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if h.Timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, h.Timeout)
	}
	defer cancel()
	post, err := http.NewRequestWithContext(callCtx, http.MethodPost, h.URL, bytes.NewReader(Payload(req)))
	if err != nil {
		return failed(oneLine(err.Error(), 2*snippetBytes))
	}
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("Accept", "application/json")
	post.Header.Set("User-Agent", "shoal-hook")
	resp, err := client.Do(post)
	if err != nil {
		return failed(callError(ctx, callCtx, h, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return failed(callError(ctx, callCtx, h, fmt.Errorf("answered %s, then reading the body: %w", resp.Status, err)))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		reason := "answered " + resp.Status
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			reason += " (redirect to " + oneLine(loc, snippetBytes) + ", not followed)"
		}
		if s := snippet(body); s != "" {
			reason += ": " + s
		}
		return failed(reason)
	}
	if len(body) > maxBodyBytes {
		return failed(fmt.Sprintf("answered %s with a body over %d bytes", resp.Status, maxBodyBytes))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Result{Status: Succeeded}
	}
	if r, ok := parseAnswer(body); ok {
		return r
	}
	return failed(fmt.Sprintf("answered %s with a body that is not a JSON object with hookStatus: %s", resp.Status, snippet(body)))
}

// snippet is the first snippetBytes bytes of body, on one line.
func snippet(body []byte) string {
	if len(body) > snippetBytes {
		cut := snippetBytes
		for cut > 0 && !isRuneStart(body[cut]) {
			cut-- // not in the middle of a character
		}
		body = body[:cut]
	}
	return oneLine(string(body), snippetBytes)
}

// callError words why a call failed: the caller's ctx, the hook's timeout,
// or the error itself.
func callError(ctx, callCtx context.Context, h Hook, err error) string {
	switch {
	case ctx.Err() != nil:
		return reasonCancelled
	case errors.Is(callCtx.Err(), context.DeadlineExceeded):
		return timedOut(h.Timeout)
	}
	return oneLine(strings.TrimSpace(err.Error()), 2*snippetBytes)
}
