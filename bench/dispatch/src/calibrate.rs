//! The load generator's own ceiling: a minimal HTTP/1.1 server on its own thread answers every
//! request at once as a finished `Prefer: wait` task would, and the create→result round runs
//! against it. Whatever the dispatcher reaches must stay well below this to be its own number.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http_load::{self, Target};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\npreference-applied: wait=30\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nnoop";

/// Runs one round per client count against the in-process server and prints each.
/// With `out_dir`, each round is also written as `calibrate-c<clients>.json`.
pub async fn calibrate(
    clients: &[usize],
    warmup: Duration,
    seconds: Duration,
    out_dir: Option<&Path>,
) -> anyhow::Result<()> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let address = std_listener.local_addr()?;
    std::thread::Builder::new()
        .name("calibrate-server".into())
        .spawn(move || serve(std_listener))
        .context("while starting the calibration server")?;
    let target = Target {
        base: format!("http://{address}"),
        token: "calibration".into(),
        function: "calibration".into(),
    };
    for &count in clients {
        let round = http_load::create_result_round(&target, count, warmup, seconds, 30).await?;
        let latency = round.latency;
        println!(
            "calibration    clients={count:<4} {:>9.1}/s  p50={:.3}ms p99={:.3}ms  errors={}",
            round.throughput,
            latency.p50,
            latency.p99,
            round.error_count()
        );
        if let Some(dir) = out_dir {
            let path = dir.join(format!("calibrate-c{count}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&round)?)
                .with_context(|| format!("while writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// One current-thread runtime: the server costs one core at most.
fn serve(listener: std::net::TcpListener) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = TcpListener::from_std(listener) else {
            return;
        };
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream));
        }
    });
}

/// Answers each request (headers plus a `content-length` body) with [`RESPONSE`].
async fn connection(mut stream: TcpStream) {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(length) = request_length(&buffer) {
            buffer.drain(..length);
            if stream.write_all(RESPONSE).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

/// The length of the first complete request in `buffer`, if there is one.
fn request_length(buffer: &[u8]) -> Option<usize> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let body = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buffer.len() >= end + body).then_some(end + body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_framed_by_headers_and_content_length() {
        let one = b"POST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc";
        assert_eq!(request_length(one), Some(one.len()));
        assert_eq!(request_length(&one[..one.len() - 1]), None);
        assert_eq!(request_length(b"GET / HTTP/1.1\r\n\r\nGET"), Some(18));
        assert_eq!(request_length(b"GET / HTTP/1.1\r\n"), None);
    }
}
