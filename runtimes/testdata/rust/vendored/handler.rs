//! Test fixture: a function using a vendored crate (itoa, from vendor/ next to Cargo.toml as
//! `cargo vendor` writes it); it must build without any network.
use canopy::{Request, Response};

pub fn handle(_req: Request) -> Response {
    let mut number = itoa::Buffer::new();
    Response::text("hello canopy from vendor").with_header("x-itoa", number.format(42))
}
