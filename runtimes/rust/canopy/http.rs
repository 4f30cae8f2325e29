//! The runner's HTTP/1.1 server: a thread per connection, keep-alive, Content-Length and chunked
//! request bodies, every response with a Content-Length.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::{sys, Body, IntoResponse, Request, Response};

const HEALTH_PATH: &str = "/__canopy/health";
const MAX_ERROR_HEADER: usize = 1000;
const MAX_LINE: u64 = 16 * 1024;
const TEXT: &str = "text/plain; charset=utf-8";

type Handler = dyn Fn(Request) -> Result<Response, String> + Send + Sync;

/// Serves `handle` on `0.0.0.0:$PORT` forever. With `CANOPY_LOAD_ERROR_FILE` set (the function did
/// not compile), every task gets a 500 with that file's text instead.
pub fn serve<F, R>(handle: F)
where
    F: Fn(Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    serve_dyn(Arc::new(move |req| handle(req).into_response()))
}

fn serve_dyn(handle: Arc<Handler>) {
    sys::exit_on_sigterm();
    let load_error = std::env::var_os("CANOPY_LOAD_ERROR_FILE").map(|file| {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| e.to_string());
        format!("compiling handler.rs failed: {}", text.trim())
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on :{port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("canopy rust runner listening on :{port}");
    let load_error = Arc::new(load_error);
    for stream in listener.incoming().flatten() {
        let (handle, load_error) = (handle.clone(), load_error.clone());
        std::thread::spawn(move || serve_connection(stream, &*handle, load_error.as_deref()));
    }
}

struct Incoming {
    request: Request,
    keep_alive: bool,
}

fn serve_connection(stream: TcpStream, handle: &Handler, load_error: Option<&str>) {
    // Nagle's algorithm plus the client's delayed ACK would hold small responses ~40 ms.
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let incoming = match read_request(&mut reader) {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return,
            Err(message) => {
                let headers = vec![("Content-Type".to_owned(), TEXT.to_owned())];
                let _ = write_response(&mut writer, "GET", 400, &headers, format!("bad request: {message}").as_bytes(), false);
                return;
            }
        };
        let Incoming { request, keep_alive } = incoming;
        let method = request.method.clone();
        let invoked = !(method == "GET" && request.path == HEALTH_PATH);
        let (status, headers, data) = if invoked {
            invoke(handle, load_error, request)
        } else {
            (200, vec![("Content-Type".to_owned(), TEXT.to_owned())], b"ok".to_vec())
        };
        let written = write_response(&mut writer, &method, status, &headers, &data, keep_alive);
        // The response is out; nothing the function started may outlive its task in a warm
        // container that the next task of the function reuses.
        if invoked {
            sys::reap_strays();
        }
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// Runs the function once: (status, headers, body), a 500 for any failure.
fn invoke(handle: &Handler, load_error: Option<&str>, request: Request) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let result = match load_error {
        Some(message) => Err(message.to_owned()),
        None => match catch_unwind(AssertUnwindSafe(|| handle(request))) {
            Ok(result) => result.and_then(encode),
            Err(panic) => Err(format!("panic: {}", panic_message(panic.as_ref()))),
        },
    };
    result.unwrap_or_else(|message| {
        let safe = header_safe(&message);
        let headers = vec![
            ("Content-Type".to_owned(), TEXT.to_owned()),
            ("X-Canopy-Error".to_owned(), if safe.is_empty() { "error".to_owned() } else { safe }),
        ];
        (500, headers, format!("error: {message}").into_bytes())
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "the handler panicked".to_owned()
    }
}

fn encode(response: Response) -> Result<(u16, Vec<(String, String)>, Vec<u8>), String> {
    if !(200..=599).contains(&response.status) {
        return Err(format!("response status must be an integer from 200 to 599, got {}", response.status));
    }
    for (name, value) in &response.headers {
        let token = !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
        if !token || value.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return Err(format!("invalid response header {name:?}"));
        }
    }
    let (data, content_type) = match response.body {
        Body::Empty => (Vec::new(), None),
        Body::Text(text) => (text.into_bytes(), Some(TEXT)),
        Body::Bytes(bytes) => (bytes, Some("application/octet-stream")),
        Body::Json(value) => match value.to_json() {
            Ok(text) => (text.into_bytes(), Some("application/json")),
            Err(e) => return Err(format!("handler returned a value that is not JSON: {e}")),
        },
    };
    let mut headers = response.headers;
    if let Some(content_type) = content_type {
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        }
    }
    Ok((response.status, headers, data))
}

/// One printable-ASCII line, escaped the same way as the other runners.
fn header_safe(message: &str) -> String {
    let mut out = String::new();
    for ch in message.chars() {
        let code = ch as u32;
        match code {
            0x20..=0x7e => out.push(ch),
            0..=0x1f | 0x7f => out.push(' '),
            0x80..=0xffff => out.push_str(&format!("\\u{code:04x}")),
            _ => out.push_str(&format!("\\U{code:08x}")),
        }
    }
    out.trim().chars().take(MAX_ERROR_HEADER).collect()
}

fn write_response(
    out: &mut TcpStream,
    method: &str,
    status: u16,
    headers: &[(String, String)],
    data: &[u8],
    keep_alive: bool,
) -> std::io::Result<()> {
    // 204 and 304 carry no body, and a stray one would break keep-alive framing.
    let data = if status == 204 || status == 304 { &[][..] } else { data };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        if !["content-length", "transfer-encoding", "connection"].contains(&name.to_ascii_lowercase().as_str()) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nServer: canopy-rust\r\n", data.len()));
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    if method != "HEAD" {
        message.extend_from_slice(data);
    }
    out.write_all(&message)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// `Ok(None)` at the end of the connection; `Err` when the request cannot be framed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Incoming>, String> {
    let mut line = String::new();
    while line.is_empty() {
        match read_line(reader)? {
            None => return Ok(None),
            Some(l) => line = l, // blank lines between requests are tolerated
        }
    }
    let mut parts = line.splitn(3, ' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") => (m.to_owned(), t.to_owned(), v.to_owned()),
        _ => return Err("malformed request line".to_owned()),
    };
    let mut headers: HashMap<String, String> = HashMap::new();
    loop {
        let line = read_line(reader)?.ok_or("connection closed in the headers")?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or("malformed header")?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        headers.entry(name).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    let body = read_body(reader, &headers)?;
    let connection = headers.get("connection").map(|v| v.to_ascii_lowercase()).unwrap_or_default();
    let keep_alive = if version == "HTTP/1.1" { connection != "close" } else { connection == "keep-alive" };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let request = Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        query_params: parse_query(query),
        headers,
        body,
    };
    Ok(Some(Incoming { request, keep_alive }))
}

fn read_line(reader: &mut BufReader<TcpStream>) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    let n = reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf).map_err(|e| e.to_string())?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err("line too long or cut short".to_owned());
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

fn read_body(reader: &mut BufReader<TcpStream>, headers: &HashMap<String, String>) -> Result<Vec<u8>, String> {
    if headers.get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return read_chunked(reader);
    }
    let Some(length) = headers.get("content-length").filter(|v| !v.is_empty()) else { return Ok(Vec::new()) };
    let length: u64 = length.parse().map_err(|_| "invalid Content-Length")?;
    read_exactly(reader, length)
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or("connection closed in a chunk")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16).map_err(|_| "invalid chunk size")?;
        if size == 0 {
            // Trailers carry nothing the function needs.
            while read_line(reader)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        body.extend(read_exactly(reader, size)?);
        read_line(reader)?;
    }
}

fn read_exactly(reader: &mut BufReader<TcpStream>, size: u64) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    reader.by_ref().take(size).read_to_end(&mut data).map_err(|e| e.to_string())?;
    if (data.len() as u64) < size {
        return Err("connection closed in the body".to_owned());
    }
    Ok(data)
}

/// `a=1&b=x+y&a=2` → {a: 2, b: "x y"}: the last value of a repeated name wins.
fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
