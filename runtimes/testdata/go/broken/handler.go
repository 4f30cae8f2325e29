// Test fixture: a function that does not compile; every task must get a 500 with the compiler's
// message, and the runner must stay up.
package function

import "canopy/handler"

func Handle(req handler.Request) (handler.Response, error) {
	return handler.Text(undefinedOnPurpose), nil
}
