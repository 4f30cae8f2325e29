//! Example Canopy function: greets ?name=, and echoes a JSON body when one is sent.
//! Tasks are created with POST /v1/task/{functionId}, so decide on the body, not the method.

use canopy::{json, Request, Response, Value};

pub fn handle(req: Request) -> Result<Response, json::Error> {
    if !req.body.is_empty() {
        let sent = req.json()?;
        return Ok(Response::json(Value::object([("you sent", sent)])));
    }
    let name = req.query_params.get("name").map_or("world", String::as_str);
    Ok(Response::text(format!("Hello, {name}!")))
}
