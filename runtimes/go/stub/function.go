// Package function stands in for a function that failed to compile: prepare.sh builds the runner with
// it once, and start.sh runs that build with CANOPY_LOAD_ERROR_FILE, so Handle is never called.
package function

import (
	"errors"

	"canopy/handler"
)

func Handle(req handler.Request) (handler.Response, error) {
	return handler.Response{}, errors.New("no function was compiled")
}
