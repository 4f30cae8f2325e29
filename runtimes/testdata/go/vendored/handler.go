// Test fixture: a function using a vendored module (vendor/ next to go.mod, as `go mod vendor`
// writes it); it must build without any network.
package function

import (
	"canopy/handler"
	"example.com/greet"
)

func Handle(req handler.Request) (handler.Response, error) {
	return handler.Response{Body: []byte(greet.Hello("canopy"))}, nil
}
