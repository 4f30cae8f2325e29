// Package handler holds the types a Go function exchanges with the Canopy runner, in the shape of
// OpenFaaS's go-http template: the function is `func Handle(req handler.Request) (handler.Response, error)`
// in package `function` (docs/runtime-contract.md, "Go").
package handler

import (
	"encoding/json"
	"net/http"
)

// Request is one task's HTTP request.
type Request struct {
	Method string
	// Path is the raw path, without the query string.
	Path string
	// QueryString is the raw query without "?", "" when none.
	QueryString string
	// QueryParams maps each query parameter to its last value.
	QueryParams map[string]string
	// Header holds the request headers (http.Header: Get is case-insensitive); Host is separate.
	Header http.Header
	Host   string
	Body   []byte
}

// Text is the body decoded as UTF-8.
func (r Request) Text() string { return string(r.Body) }

// JSON decodes the body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Response is what the function answers. StatusCode 0 means 200. A Body without a Content-Type header
// is sent as application/octet-stream; an empty Body as an empty 200.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte

	// Set by JSON: encoded by the runner, so a value that cannot be encoded becomes the task's error.
	value   any
	isValue bool
}

// Text is a 200 text/plain; charset=utf-8 response.
func Text(s string) Response {
	return Response{Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte(s)}
}

// Bytes is a 200 application/octet-stream response.
func Bytes(b []byte) Response { return Response{Body: b} }

// JSON is a 200 application/json response holding v, encoded with encoding/json.
func JSON(v any) Response { return Response{value: v, isValue: true} }

// Value reports the value given to JSON, for the runner.
func (r Response) Value() (any, bool) { return r.value, r.isValue }
