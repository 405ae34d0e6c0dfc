package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/putsecrets/putsecrets/standin/host"
)

// coldResult is the cold starts of one binary.
type coldResult struct {
	// Ready is process start to the first answer to GET /; First is process
	// start to the answer of the first invocation (for the handler a
	// successful one: token, Key Vault challenge and read, Graph PUT).
	Ready, First []time.Duration
}

// measureColdStart starts the handler and the bare server ColdStarts times
// each, alternating, and times their first answers. The host emulator polls
// every 25 ms, too coarsely for this, so the process is started here, the
// way the emulator starts it, and GET / is tried every 100 µs.
func measureColdStart(ctx context.Context, o options, p plan, r *report) error {
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	sp := newGUID()
	env.Graph.AddServicePrincipal(sp)

	// The invocation is the envelope the host emulator builds for an HTTP
	// call with three references; capture it from one call to the bare
	// server.
	bare, err := startHost(ctx, o.bare, o.app, settings)
	if err != nil {
		return err
	}
	envelope, err := captureEnvelope(ctx, bare, document(sp, 3))
	stopHost(bare)
	if err != nil {
		return err
	}

	r.ColdHandler, r.ColdBare = &coldResult{}, &coldResult{}
	ps, err := peers(o)
	if err != nil {
		return err
	}
	r.ColdPeers = map[string]*coldResult{}
	for _, pr := range ps {
		r.ColdPeers[pr.Name] = &coldResult{}
	}
	for i := range p.ColdStarts {
		for _, handler := range []bool{i%2 == 0, i%2 != 0} {
			binary, res := o.bare, r.ColdBare
			if handler {
				binary, res = o.handler, r.ColdHandler
			}
			ready, first, err := coldStart(ctx, []string{binary}, o.app, settings, envelope, handler)
			if err != nil {
				return fmt.Errorf("%s: %w", binary, err)
			}
			res.Ready = append(res.Ready, ready)
			res.First = append(res.First, first)
		}
		logf("cold %d/%d: handler ready %.1f ms, first invocation %.1f ms; bare ready %.1f ms, first %.1f ms", i+1, p.ColdStarts,
			ms(r.ColdHandler.Ready[i]), ms(r.ColdHandler.First[i]), ms(r.ColdBare.Ready[i]), ms(r.ColdBare.First[i]))
		for _, pr := range ps {
			res := r.ColdPeers[pr.Name]
			ready, first, err := coldStart(ctx, pr.Cmd, o.app, pr.procEnv(settings), envelope, pr.Check)
			if err != nil {
				return fmt.Errorf("%s: %w", pr.Name, err)
			}
			res.Ready, res.First = append(res.Ready, ready), append(res.First, first)
			logf("cold %d/%d: %s ready %.1f ms, first invocation %.1f ms", i+1, p.ColdStarts, pr.Name, ms(ready), ms(first))
		}
	}
	return nil
}

// captureEnvelope returns the envelope the host emulator sends for an HTTP
// invocation of doc.
func captureEnvelope(ctx context.Context, h *host.Host, doc []byte) ([]byte, error) {
	res, err := h.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: doc,
	})
	if err != nil {
		return nil, err
	}
	return res.Request, nil
}

// coldStart starts binary as the host would (working directory app, PATH,
// HOME, the settings and the port variables), waits for its answer to
// GET /, sends envelope to /PutSecrets and stops it. With check the answer
// must be the caller's 200.
func coldStart(ctx context.Context, cmdline []string, app string, settings []string, envelope []byte, check bool) (ready, first time.Duration, err error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	p := strconv.Itoa(port)
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Dir = app
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, settings...)
	cmd.Env = append(cmd.Env, "FUNCTIONS_CUSTOMHANDLER_PORT="+p, "FUNCTIONS_HTTPWORKER_PORT="+p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	base := "http://127.0.0.1:" + p

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	for {
		resp, err := client.Get(base + "/")
		if err == nil {
			drain(resp.Body)
			ready = time.Since(start)
			break
		}
		select {
		case <-exited:
			return 0, 0, fmt.Errorf("exited before answering: %s", stderr.String())
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		default:
		}
		if time.Since(start) > 30*time.Second {
			return 0, 0, errors.New("no answer to GET / within 30 s")
		}
		time.Sleep(100 * time.Microsecond)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/PutSecrets", bytes.NewReader(envelope))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", newGUID())
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	body := drain(resp.Body)
	first = time.Since(start)
	if check {
		var a struct {
			Outputs struct {
				Res struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				} `json:"res"`
			}
		}
		if err := json.Unmarshal(body, &a); err != nil || a.Outputs.Res.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("first invocation: answer %d, caller status %d: %s",
				resp.StatusCode, a.Outputs.Res.StatusCode, problemText([]byte(a.Outputs.Res.Body)))
		}
	}
	return ready, first, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
