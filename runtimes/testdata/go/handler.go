// Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.
// Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
// fork (leaves a child running), procs (the other processes in the container).
package function

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"canopy/handler"
)

func Handle(req handler.Request) (handler.Response, error) {
	mode := req.QueryParams["mode"]
	if mode == "" {
		mode = strings.Split(strings.TrimPrefix(req.Path, "/"), "/")[0]
	}
	switch mode {
	case "", "echo":
		var body any
		if len(req.Body) > 0 {
			if err := req.JSON(&body); err != nil {
				return handler.Response{}, err
			}
		}
		var contentType any
		if value := req.Header.Get("Content-Type"); value != "" {
			contentType = value
		}
		return handler.JSON(map[string]any{
			"method": req.Method, "path": req.Path, "query": req.QueryString,
			"queryParams": req.QueryParams, "contentType": contentType, "json": body,
		}), nil
	case "binary":
		data := make([]byte, 4096)
		for i := range data {
			data[i] = byte(i % 256)
		}
		return handler.Bytes(data), nil
	case "raise":
		return handler.Response{}, errors.New("boom requested")
	case "unicode-raise":
		panic("d\u00e9j\u00e0 vu \u2603\nsecond line")
	case "string":
		return handler.Text("plain string"), nil
	case "json":
		return handler.JSON([]any{1, "two", map[string]int{"three": 3}, nil, true}), nil
	case "none":
		return handler.Response{}, nil
	case "status":
		return handler.Response{StatusCode: 201, Header: http.Header{"X-Fixture": {"yes"},
			"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte("created")}, nil
	case "sleep":
		seconds, _ := strconv.ParseFloat(req.QueryParams["seconds"], 64)
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return handler.Text("slept"), nil
	case "fs":
		return handler.JSON(map[string]any{"uid": os.Getuid(), "gid": os.Getgid(),
			"tmp": canWrite("/tmp/probe"), "root": canWrite("/probe"), "app": canWrite("/app/probe")}), nil
	case "fork":
		if err := exec.Command("sleep", "300").Start(); err != nil {
			return handler.Response{}, err
		}
		return handler.Text("forked"), nil
	case "procs":
		return handler.JSON(otherProcesses()), nil
	case "egress":
		host, port := req.QueryParams["host"], req.QueryParams["port"]
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 2*time.Second)
		if err != nil {
			return handler.JSON(map[string]any{"connected": false, "error": err.Error()}), nil
		}
		conn.Close()
		return handler.JSON(map[string]any{"connected": true}), nil
	}
	return handler.Response{StatusCode: 404, Body: []byte("unknown mode " + mode)}, nil
}

func otherProcesses() []int {
	pids := []int{}
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		if pid, err := strconv.Atoi(entry.Name()); err == nil && pid != os.Getpid() && pid != 1 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

func canWrite(path string) bool {
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		return false
	}
	os.Remove(path)
	return true
}
