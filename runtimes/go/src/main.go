// Canopy Go runner: serves the function compiled from /app (package function) over HTTP
// (docs/runtime-contract.md). Standard library only; start.sh compiles it together with the function.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"canopy/function"
	"canopy/handler"
)

const (
	healthPath     = "/__canopy/health"
	maxErrorHeader = 1000
	textType       = "text/plain; charset=utf-8"
)

// handlerError is the function's failure: its message becomes the 500 body and X-Canopy-Error.
type handlerError struct{ message string }

func (e handlerError) Error() string { return e.message }

type runner struct {
	// loadError, when set, answers every task: the function did not compile.
	loadError string
}

func main() {
	// As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; os.Exit(0) }()

	r := runner{}
	if file := os.Getenv("CANOPY_LOAD_ERROR_FILE"); file != "" {
		out, err := os.ReadFile(file)
		if err != nil {
			out = []byte(err.Error())
		}
		r.loadError = "compiling handler.go failed: " + strings.TrimSpace(string(out))
		fmt.Fprintln(os.Stderr, r.loadError)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// No idle timeout: the worker owns connection lifetimes. Go sets TCP_NODELAY on accepted
	// connections, so small responses do not wait for the client's delayed ACK.
	server := &http.Server{Addr: "0.0.0.0:" + port, Handler: r}
	fmt.Fprintf(os.Stderr, "canopy go runner listening on :%s\n", port)
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (r runner) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path, query, _ := strings.Cut(req.RequestURI, "?")
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.Header().Set("Connection", "close") // the framing is lost
		reply(w, http.StatusBadRequest, http.Header{"Content-Type": {textType}}, []byte("bad request: "+err.Error()))
		return
	}
	if req.Method == http.MethodGet && path == healthPath {
		reply(w, http.StatusOK, http.Header{"Content-Type": {textType}}, []byte("ok"))
		return
	}
	status, header, data, err := r.call(handler.Request{
		Method: req.Method, Path: path, QueryString: query, QueryParams: lastValues(query),
		Header: req.Header, Host: req.Host, Body: body,
	})
	if err != nil {
		fail(w, err.Error())
	} else {
		reply(w, status, header, data)
	}
	// The response is out; nothing the function started may outlive its task in a warm container
	// that the next task of the function reuses.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	reapStrays()
}

// call runs the function once and turns its answer into (status, headers, body).
func (r runner) call(req handler.Request) (status int, header http.Header, data []byte, err error) {
	if r.loadError != "" {
		return 0, nil, nil, handlerError{r.loadError}
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "panic in handler: %v\n", p)
			err = handlerError{fmt.Sprintf("panic: %v", p)}
		}
	}()
	res, err := function.Handle(req)
	if err != nil {
		return 0, nil, nil, err
	}
	return toResponse(res)
}

func toResponse(res handler.Response) (int, http.Header, []byte, error) {
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status > 599 {
		return 0, nil, nil, handlerError{fmt.Sprintf("response status must be an integer from 200 to 599, got %d", status)}
	}
	header := http.Header{}
	for name, values := range res.Header {
		for _, value := range values {
			if !validName(name) || !validValue(value) {
				return 0, nil, nil, handlerError{fmt.Sprintf("invalid response header %q", name)}
			}
			header.Add(name, value)
		}
	}
	data, contentType := res.Body, ""
	if value, ok := res.Value(); ok {
		encoded, err := json.Marshal(value)
		if err != nil {
			return 0, nil, nil, handlerError{"handler returned a value that is not JSON: " + err.Error()}
		}
		data, contentType = encoded, "application/json"
	} else if len(data) > 0 {
		contentType = "application/octet-stream"
	}
	if contentType != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", contentType)
	}
	return status, header, data, nil
}

func reply(w http.ResponseWriter, status int, header http.Header, data []byte) {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		data = nil // these statuses carry no body, and a stray one would break keep-alive framing
	}
	out := w.Header()
	for name, values := range header {
		switch strings.ToLower(name) {
		case "content-length", "transfer-encoding", "connection":
			continue
		}
		out[http.CanonicalHeaderKey(name)] = values
	}
	out.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func fail(w http.ResponseWriter, message string) {
	safe := headerSafe(message)
	if safe == "" {
		safe = "error"
	}
	reply(w, http.StatusInternalServerError,
		http.Header{"Content-Type": {textType}, "X-Canopy-Error": {safe}}, []byte("error: "+message))
}

// headerSafe is one printable-ASCII line, escaped the same way as the other runners.
func headerSafe(message string) string {
	var b strings.Builder
	for _, ch := range message {
		switch {
		case ch >= 0x20 && ch < 0x7f:
			b.WriteRune(ch)
		case ch < 0x20 || ch == 0x7f:
			b.WriteByte(' ')
		case ch <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", ch)
		default:
			fmt.Fprintf(&b, "\\U%08x", ch)
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > maxErrorHeader {
		out = out[:maxErrorHeader]
	}
	return out
}

// lastValues parses the raw query; a repeated name keeps its last value, as the contract asks.
func lastValues(query string) map[string]string {
	params := map[string]string{}
	values, _ := url.ParseQuery(query) // keeps what parses; a bad pair is skipped
	for name, list := range values {
		params[name] = list[len(list)-1]
	}
	return params
}

// RFC 9110 token and field-value.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func validValue(value string) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}
