package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
)

// handlePutSecrets serves the PutSecrets HTTP function. The handler always
// answers the host with 200; the caller's status travels in Outputs.res.
// Every invocation answers within budget (see HTTPAnswerLimit): the work
// stops at workDeadline, and a failure for want of time says how far it got.
func handlePutSecrets(log *slog.Logger, svc provision.Putter, budget, bodyTimeout time.Duration, requiredRole string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inv := invocationLog{function: FunctionHTTP, invocationID: r.Header.Get(envelope.InvocationIDHeader)}

		req, err := readInvocation(w, r, bodyTimeout, envelope.DecodeHTTP, bindingRequest)
		if errors.Is(err, envelope.ErrTooLarge) {
			p := problem.New(http.StatusBadRequest, "the request's URL, query string or headers are larger than 64 KiB: send less",
				problem.FieldError{Field: "", Message: "request too large"})
			writeHTTPProblem(log, w, inv, p, start, nil)
			return
		}
		if err != nil {
			log.Error("unreadable invocation request", "function", FunctionHTTP, "invocationId", inv.invocationID, "error", err.Error())
			p := problem.New(http.StatusInternalServerError, "the Functions host sent an invocation request this handler cannot read")
			writeHTTPProblem(log, w, inv, p, start, nil)
			return
		}
		// Caller authorization (PUTSECRETS_REQUIRED_ROLE), before anything reads the body.
		if p := authorize(requiredRole, req.Headers); p != nil {
			writeHTTPProblem(log, w, inv, p, start, nil)
			return
		}
		if !req.HasBody {
			p := problem.New(http.StatusBadRequest,
				"no request body reached the function: send the JSON request document with a Content-Length header "+
					"(the Functions host forwards no body for a chunked upload)",
				problem.FieldError{Field: "", Message: "request body is missing"})
			writeHTTPProblem(log, w, inv, p, start, nil)
			return
		}

		ctx, cancel := context.WithDeadline(r.Context(), workDeadline(start, budget))
		defer cancel()
		res, err := svc.Put(ctx, req.Body)
		if err != nil {
			writeHTTPProblem(log, w, inv, problem.From(err), start, res)
			return
		}
		body, err := json.Marshal(res)
		if err != nil {
			writeHTTPProblem(log, w, inv, problem.New(http.StatusInternalServerError, "could not encode the answer"), start, res)
			return
		}
		inv.log(log, start, http.StatusOK, res, nil)
		out := envelope.HTTPOutput{StatusCode: http.StatusOK, Headers: jsonHeaders("application/json"), Body: string(body)}
		writeAnswer(log, w, http.StatusOK, envelope.NewHTTPAnswer(bindingResponse, out, inv.summary(http.StatusOK, res, nil)))
	})
}

// readInvocation decodes the invocation request's body with decode, within
// bodyTimeout. The connection's read deadline is set for the body; once the
// body is in it is lifted, so that it cannot cut the connection (and cancel
// the request's context) while the invocation works. When the body could not
// be read it is moved to now instead: net/http would otherwise wait, without
// a limit, to drain what the stalled sender never sends.
func readInvocation[T any](w http.ResponseWriter, r *http.Request, bodyTimeout time.Duration,
	decode func(io.Reader, string) (T, error), binding string) (T, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout)) // httptest's recorder cannot: then unbounded
	v, err := decode(r.Body, binding)
	if err != nil {
		_ = rc.SetReadDeadline(time.Now())
		return v, err
	}
	_ = rc.SetReadDeadline(time.Time{})
	return v, nil
}

func writeHTTPProblem(log *slog.Logger, w http.ResponseWriter, inv invocationLog, p *problem.Problem, start time.Time, res *provision.Result) {
	inv.log(log, start, p.Status, res, p)
	headers := jsonHeaders(problem.ContentType)
	if ra := p.RetryAfterHeader(); ra != "" {
		headers["Retry-After"] = ra
	}
	out := envelope.HTTPOutput{StatusCode: p.Status, Headers: headers, Body: string(p.JSON())}
	writeAnswer(log, w, http.StatusOK, envelope.NewHTTPAnswer(bindingResponse, out, inv.summary(p.Status, res, p)))
}

func jsonHeaders(contentType string) map[string]string {
	return map[string]string{"Content-Type": contentType, "Cache-Control": "no-store"}
}

func writeAnswer(log *slog.Logger, w http.ResponseWriter, status int, a envelope.Answer) {
	if err := envelope.Write(w, status, a); err != nil {
		log.Error("answer to the Functions host failed", "error", err.Error())
	}
}

// invocationLog carries the identifiers of one invocation for its log line.
type invocationLog struct {
	function      string
	invocationID  string
	messageID     string
	deliveryCount int
}

// log writes the one line per invocation outcome of docs/contract.md §7.
func (inv invocationLog) log(log *slog.Logger, start time.Time, status int, res *provision.Result, p *problem.Problem, extra ...any) {
	attrs := []any{
		"function", inv.function,
		"invocationId", inv.invocationID,
		"status", status,
		"durationMs", time.Since(start).Milliseconds(),
	}
	if inv.messageID != "" || inv.function == FunctionQueue {
		attrs = append(attrs, "messageId", inv.messageID, "deliveryCount", inv.deliveryCount)
	}
	attrs = append(attrs, res.LogAttrs(p != nil)...)
	attrs = append(attrs, extra...)
	if p != nil {
		attrs = append(attrs, p.LogAttrs()...)
		log.Warn("invocation failed", attrs...)
		return
	}
	log.Info("invocation succeeded", attrs...)
}

// summary is the one line returned in the answer's Logs, which the host
// forwards to Application Insights.
func (inv invocationLog) summary(status int, res *provision.Result, p *problem.Problem) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d", inv.function, status)
	if res != nil && res.ServicePrincipalID != "" {
		fmt.Fprintf(&b, " servicePrincipal=%s keys=%s", res.ServicePrincipalID, strings.Join(res.Keys, ","))
		if res.GraphRequestID != "" {
			fmt.Fprintf(&b, " graphRequestId=%s", res.GraphRequestID)
		}
	}
	if p != nil {
		fmt.Fprintf(&b, ": %s", p.Doc.Detail)
	} else if res != nil {
		fmt.Fprintf(&b, ": %s", res.Status)
	}
	return b.String()
}
