//! Served when the function does not compile: start.sh runs it with CANOPY_LOAD_ERROR_FILE, so
//! every task gets a 500 with the compiler's message and the handler below is never called.
fn main() {
    canopy::serve(|_req: canopy::Request| -> Result<(), String> { Err("no function was compiled".to_owned()) });
}
