//! The result: a summary on stdout and a Markdown report with the machine it ran on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::memory::Sample;
use crate::probe::View;
use crate::ramp::Checkpoint;

/// Target of ARCHITECTURE §9: dispatcher memory per idle session.
pub const TARGET_KIB_PER_SOCKET: f64 = 16.0;

/// Everything measured in one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sockets: usize,
    pub rate: u32,
    pub sources: usize,
    pub established: usize,
    pub failed: usize,
    pub dropped: usize,
    /// Alive at the final measurement.
    pub alive: usize,
    pub pings: u64,
    pub failures: BTreeMap<String, usize>,
    pub drops: BTreeMap<String, usize>,
    pub heartbeat_ms: u64,
    pub idle_s: u64,
    pub setup_s: f64,
    pub opening_s: f64,
    pub at_start: Sample,
    pub before: Sample,
    pub after: Sample,
    pub client_before: Sample,
    pub client_after: Sample,
    pub checkpoints: Vec<Checkpoint>,
    pub view: View,
    pub closing: Option<Closing>,
    pub command: String,
    pub dispatcher_command: String,
    pub notes: Vec<String>,
}

/// The end: every session said `goodbye`.
#[derive(Debug, Clone, Copy)]
pub struct Closing {
    pub seconds: f64,
    /// Sessions the dispatcher had not closed when the wait ended.
    pub left_open: usize,
    /// The dispatcher's memory a few seconds after.
    pub dispatcher: Sample,
}

impl Outcome {
    /// (RSS after − RSS before) / sessions alive, KiB.
    pub fn kib_per_socket(&self) -> Option<f64> {
        per(self.after.rss_kib, self.before.rss_kib, self.alive)
    }

    fn client_kib_per_socket(&self) -> Option<f64> {
        per(
            self.client_after.rss_kib,
            self.client_before.rss_kib,
            self.alive,
        )
    }

    /// Marginal cost between consecutive checkpoints (baseline first), KiB per session.
    fn marginal(&self) -> Vec<(usize, usize, f64)> {
        let mut points = vec![(0, self.before.rss_kib)];
        points.extend(
            self.checkpoints
                .iter()
                .map(|c| (c.alive, c.dispatcher.rss_kib)),
        );
        points
            .windows(2)
            .filter_map(|pair| {
                let ((from, low), (to, high)) = (pair[0], pair[1]);
                per(high, low, to.saturating_sub(from)).map(|kib| (from, to, kib))
            })
            .collect()
    }

    fn verdict(&self) -> &'static str {
        match self.kib_per_socket() {
            Some(kib) if kib <= TARGET_KIB_PER_SOCKET => "meets the target",
            Some(_) => "misses the target",
            None => "not measured (no session alive)",
        }
    }
}

fn per(after_kib: u64, before_kib: u64, count: usize) -> Option<f64> {
    (count > 0).then(|| (after_kib as f64 - before_kib as f64) / count as f64)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn optional<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

/// The summary lines, as printed and as put in the report.
fn summary(outcome: &Outcome) -> String {
    let mut out = String::new();
    let o = outcome;
    let _ = writeln!(
        out,
        "sessions: requested={} established={} failed={} dropped_after_welcome={} alive_at_end={}",
        o.sockets, o.established, o.failed, o.dropped, o.alive
    );
    for (why, count) in &o.failures {
        let _ = writeln!(out, "  failed: {count} × {why}");
    }
    for (why, count) in &o.drops {
        let _ = writeln!(out, "  dropped: {count} × {why}");
    }
    let _ = writeln!(out, "dispatcher view: canopy_connected_workers={} canopy_worker_connections_total={} protocol_violations={} node list connected={}/{}",
        optional(o.view.connected_workers), optional(o.view.connections_total), optional(o.view.protocol_violations),
        optional(o.view.listed_connected), optional(o.view.listed_total));
    let _ = writeln!(out, "timing: setup {:.1} s, opening {:.1} s ({:.0}/s; asked {}/s), idle {} s (heartbeat {} ms), pings answered {}",
        o.setup_s, o.opening_s, o.established as f64 / o.opening_s.max(0.001), o.rate, o.idle_s, o.heartbeat_ms, o.pings);
    let _ = writeln!(
        out,
        "dispatcher RSS: at start {}, before {}, after {} (anon {} → {}, peak {}, threads {})",
        mib(o.at_start.rss_kib),
        mib(o.before.rss_kib),
        mib(o.after.rss_kib),
        mib(o.before.anon_kib),
        mib(o.after.anon_kib),
        mib(o.after.hwm_kib),
        o.after.threads
    );
    for (from, to, kib) in o.marginal() {
        let _ = writeln!(
            out,
            "  {from:>6} → {to:>6} sessions: {kib:.2} KiB per session"
        );
    }
    let _ = writeln!(
        out,
        "client RSS: before {}, after {} ({} KiB per session)",
        mib(o.client_before.rss_kib),
        mib(o.client_after.rss_kib),
        optional(o.client_kib_per_socket().map(|kib| format!("{kib:.2}")))
    );
    if let Some(closing) = &o.closing {
        let _ = writeln!(
            out,
            "after every session said goodbye ({:.1} s, {} left open): dispatcher RSS {}",
            closing.seconds,
            closing.left_open,
            mib(closing.dispatcher.rss_kib)
        );
    }
    let _ = writeln!(
        out,
        "DISPATCHER MEMORY PER IDLE SESSION: {} KiB (target ≤ {TARGET_KIB_PER_SOCKET} KiB): {}",
        optional(o.kib_per_socket().map(|kib| format!("{kib:.2}"))),
        o.verdict()
    );
    out
}

/// Prints the summary.
pub fn print(outcome: &Outcome) {
    println!("\n== idle-sockets summary ==\n{}", summary(outcome));
}

/// The machine, as `nproc`, `/proc/cpuinfo`, `/proc/meminfo` and the kernel release say.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, model)| model.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned());
    format!("{cpus} CPUs ({model}), {ram_gib} RAM, Linux {kernel}")
}

/// Writes the Markdown report (creating its directory).
pub fn write(path: &Path, outcome: &Outcome) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
    }
    let o = outcome;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Idle sockets: {} sessions on one dispatcher\n",
        o.sockets
    );
    let _ = writeln!(
        text,
        "- Date: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(text, "- Machine: {}", machine());
    let _ = writeln!(
        text,
        "- Loopback only; sessions from {} source addresses, {} new per second at most",
        o.sources, o.rate
    );
    if !o.command.is_empty() {
        let _ = writeln!(text, "- Command: `{}`", o.command);
    }
    if !o.dispatcher_command.is_empty() {
        let _ = writeln!(text, "- Dispatcher: `{}`", o.dispatcher_command);
    }
    for note in &o.notes {
        let _ = writeln!(text, "- Note: {note}");
    }
    let _ = writeln!(text, "\n| | value |\n|---|---|");
    let _ = writeln!(
        text,
        "| sessions established / failed / dropped / alive at end | {} / {} / {} / {} |",
        o.established, o.failed, o.dropped, o.alive
    );
    let _ = writeln!(
        text,
        "| dispatcher RSS before → after | {} → {} |",
        mib(o.before.rss_kib),
        mib(o.after.rss_kib)
    );
    let _ = writeln!(text, "| **dispatcher RSS per idle session** | **{} KiB** (target ≤ {TARGET_KIB_PER_SOCKET} KiB: {}) |",
        optional(o.kib_per_socket().map(|kib| format!("{kib:.2}"))), o.verdict());
    let _ = writeln!(
        text,
        "| client RSS before → after | {} → {} ({} KiB per session) |",
        mib(o.client_before.rss_kib),
        mib(o.client_after.rss_kib),
        optional(o.client_kib_per_socket().map(|kib| format!("{kib:.2}")))
    );
    let _ = writeln!(
        text,
        "| `canopy_connected_workers` after {} s idle | {} |",
        o.idle_s,
        optional(o.view.connected_workers)
    );
    let _ = writeln!(
        text,
        "| nodes listed as connected | {} of {} |",
        optional(o.view.listed_connected),
        optional(o.view.listed_total)
    );
    let _ = writeln!(text, "\nMarginal cost between checkpoints (ramp paused, nothing in flight):\n\n| sessions | KiB per session |\n|---|---|");
    for (from, to, kib) in o.marginal() {
        let _ = writeln!(text, "| {from} → {to} | {kib:.2} |");
    }
    let _ = writeln!(text, "\nSummary as printed:\n\n```\n{}```", summary(o));
    std::fs::write(path, text).with_context(|| format!("while writing {}", path.display()))
}
