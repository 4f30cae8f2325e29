// Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.
// Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.
package function

import (
	"canopy/handler"
)

func Handle(req handler.Request) (handler.Response, error) {
	if len(req.Body) > 0 {
		var sent any
		if err := req.JSON(&sent); err != nil {
			return handler.Response{}, err
		}
		return handler.JSON(map[string]any{"you sent": sent}), nil
	}
	name := req.QueryParams["name"]
	if name == "" {
		name = "world"
	}
	return handler.Text("Hello, " + name + "!"), nil
}
