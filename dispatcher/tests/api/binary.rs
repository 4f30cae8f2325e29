//! The `canopy-dispatcher` binary itself: `--version`, `migrate`, and the `short` log format
//! (one line per request) on a real database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

fn dispatcher() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canopy-dispatcher"));
    command.env_remove("RUST_LOG");
    command
}

/// The URL of the test's own database (`#[sqlx::test]` made it next to `DATABASE_URL`'s).
fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let database = pool
        .connect_options()
        .get_database()
        .expect("a database name")
        .to_owned();
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    let query = base.split_once('?').map(|(_, query)| format!("?{query}"));
    format!("{server}/{database}{}", query.unwrap_or_default())
}

#[test]
fn version_prints_the_version_and_the_git_commit() {
    let output = dispatcher().arg("--version").output().expect("runs");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(
            "canopy-dispatcher {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            canopy_version::COMMIT
        )
    );
}

#[sqlx::test(migrations = false)]
async fn migrate_applies_every_migration_and_exits(pool: PgPool) {
    let output = dispatcher()
        .arg("migrate")
        .env("CANOPY_DATABASE_URL", database_url(&pool))
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "migrations applied"
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .expect("the migrations table");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .expect("migrations")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "sql"))
        })
        .count();
    assert_eq!(applied, files as i64);
}

/// The binary serving on a free port, its stdout (where it logs) read line by line.
struct LoggingDispatcher {
    address: String,
    lines: std::sync::mpsc::Receiver<String>,
    child: Child,
}

impl LoggingDispatcher {
    fn start(pool: &PgPool, log_format: &str) -> LoggingDispatcher {
        let mut child = dispatcher()
            .args(["--listen", "127.0.0.1:0", "--log-format", log_format])
            .env("CANOPY_DATABASE_URL", database_url(pool))
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_in, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_in.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = LoggingDispatcher {
            address: String::new(),
            lines,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        running.address = loop {
            let line = running
                .next_line(deadline)
                .expect("the dispatcher says where it listens");
            if let Some((_, rest)) = line.split_once("http://127.0.0.1:") {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                break format!("http://127.0.0.1:{port}");
            }
        };
        running
    }

    fn next_line(&self, deadline: Instant) -> Option<String> {
        self.lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    }

    async fn get(&self, paths: &[&str]) {
        let client = reqwest::Client::new();
        for path in paths {
            client
                .get(format!("{}{path}", self.address))
                .send()
                .await
                .expect("sent");
        }
    }

    /// Every line logged until nothing more comes for 300 ms.
    fn drain(&self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(line) = self.next_line(Instant::now() + Duration::from_millis(300)) {
            seen.push(line);
        }
        seen
    }
}

impl Drop for LoggingDispatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PATHS: [&str; 3] = ["/readyz", "/v1/function/list", "/no/such/route"];

#[sqlx::test(migrations = "../migrations")]
async fn the_short_log_format_prints_one_line_per_request(pool: PgPool) {
    let dispatcher = LoggingDispatcher::start(&pool, "short");
    dispatcher.get(&PATHS).await;
    let requests = [
        "GET /readyz 200 ",
        "GET /v1/function/list 401 NEEDS_LOGIN ",
        "GET /no/such/route 404 ROUTE_NOT_FOUND ",
    ];
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !requests
        .iter()
        .all(|request| seen.iter().any(|line: &String| line.contains(request)))
    {
        let line = dispatcher
            .next_line(deadline)
            .unwrap_or_else(|| panic!("an access line per request, saw {seen:?}"));
        seen.push(line);
    }
    // Later lines about these requests would come within a moment.
    seen.extend(dispatcher.drain());
    for request in requests {
        let path = request.split(' ').nth(1).expect("a path");
        let about: Vec<&String> = seen.iter().filter(|line| line.contains(path)).collect();
        assert_eq!(about.len(), 1, "one line for {path}: {seen:?}");
        // `HH:MM:SS GET /readyz 200 1.2ms`: the time, then the request; no level, no spans.
        let line = about[0];
        assert_eq!(&line[2..3], ":", "{line}");
        assert!(line[9..].starts_with(request), "{line}");
        assert!(
            !line.contains("request_id") && !line.contains("http."),
            "{line}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_text_log_format_has_no_access_lines_unless_rust_log_asks(pool: PgPool) {
    let dispatcher = LoggingDispatcher::start(&pool, "text");
    dispatcher.get(&PATHS).await;
    let seen = dispatcher.drain();
    assert!(
        !seen.iter().any(|line| line.contains("GET /readyz 200")),
        "{seen:?}"
    );
}
