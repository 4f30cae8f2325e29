//! Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.
//! Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
//! fork (leaves a child running), procs (the other processes in the container).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use canopy::{Request, Response, Value};

pub fn handle(req: Request) -> Result<Response, String> {
    let first = req.path.trim_start_matches('/').split('/').next().unwrap_or("").to_owned();
    let mode = req.query_params.get("mode").cloned().unwrap_or(first);
    Ok(match mode.as_str() {
        "" | "echo" => {
            let json = if req.body.is_empty() { Value::Null } else { req.json().map_err(|e| e.to_string())? };
            let params = req.query_params.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str())));
            Response::json(Value::object([
                ("method", Value::from(req.method.as_str())),
                ("path", Value::from(req.path.as_str())),
                ("query", Value::from(req.query.as_str())),
                ("queryParams", Value::object(params)),
                ("contentType", Value::from(req.headers.get("content-type").cloned())),
                ("json", json),
            ]))
        }
        "binary" => Response::bytes((0..4096).map(|i| (i % 256) as u8).collect::<Vec<u8>>()),
        "raise" => return Err("boom requested".to_owned()),
        "unicode-raise" => panic!("d\u{e9}j\u{e0} vu \u{2603}\nsecond line"),
        "string" => Response::text("plain string"),
        "json" => Response::json(Value::Array(vec![
            Value::from(1i64),
            Value::from("two"),
            Value::object([("three", Value::from(3i64))]),
            Value::Null,
            Value::from(true),
        ])),
        "none" => Response::empty(),
        "status" => Response::text("created").with_status(201).with_header("X-Fixture", "yes"),
        "sleep" => {
            let seconds: f64 = req.query_params.get("seconds").and_then(|s| s.parse().ok()).unwrap_or(1.0);
            std::thread::sleep(Duration::from_secs_f64(seconds));
            Response::text("slept")
        }
        "fs" => Response::json(Value::object([
            ("uid", Value::from(uid())),
            ("tmp", Value::from(can_write("/tmp/probe"))),
            ("root", Value::from(can_write("/probe"))),
            ("app", Value::from(can_write("/app/probe"))),
        ])),
        "fork" => {
            std::process::Command::new("sleep").arg("300").spawn().map_err(|e| e.to_string())?;
            Response::text("forked")
        }
        "procs" => {
            let me = std::process::id();
            let mut pids: Vec<u32> = std::fs::read_dir("/proc")
                .map_err(|e| e.to_string())?
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|&pid| pid != me && pid != 1)
                .collect();
            pids.sort_unstable();
            Response::json(pids)
        }
        "egress" => {
            let host = req.query_params.get("host").map_or("1.1.1.1", String::as_str);
            let port = req.query_params.get("port").map_or("80", String::as_str);
            let addr: SocketAddr = format!("{host}:{port}").parse().map_err(|e| format!("{e}"))?;
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(_) => Response::json(Value::object([("connected", Value::from(true))])),
                Err(e) => Response::json(Value::object([
                    ("connected", Value::from(false)),
                    ("error", Value::from(e.to_string())),
                ])),
            }
        }
        other => Response::text(format!("unknown mode {other}")).with_status(404),
    })
}

fn can_write(path: &str) -> bool {
    std::fs::write(path, "x").and_then(|()| std::fs::remove_file(path)).is_ok()
}

fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // A file this process just created is owned by its uid.
    let probe = "/tmp/uid-probe";
    let uid = std::fs::write(probe, "").and_then(|()| std::fs::metadata(probe)).map_or(u32::MAX, |m| m.uid());
    let _ = std::fs::remove_file(probe);
    uid
}
