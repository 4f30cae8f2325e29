//! Test fixture: a function that does not compile; every task must get a 500 with the compiler's
//! message, and the runner must stay up.
use canopy::{Request, Response};

pub fn handle(_req: Request) -> Response {
    Response::text(undefined_on_purpose)
}
