//! The report as Markdown: header facts, one results table, the targets and ratios, and every
//! non-zero error count.

use std::fmt::Write;

use super::{checks, Goal, Header, Results};
use crate::load::Round;
use crate::stats::Latency;

/// The whole report.
pub fn render(results: &Results, context: &Header) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Dispatch benchmark, {}\n", context.date);
    let _ = writeln!(out, "- Machine: {}", context.machine);
    for (key, value) in &context.meta {
        let _ = writeln!(out, "- {key}: {value}");
    }
    out.push('\n');
    results_table(&mut out, results);
    out.push_str(NOTES);
    targets_table(&mut out, results);
    errors(&mut out, results);
    out
}

const NOTES: &str = "Per second: successes that finished inside the measured window ÷ its length; \
latencies: of the requests started inside it. Canopy clients are closed loops (create→assign clients \
wait for their task's `assign` before posting again); graphile-worker's producers do not wait for their \
jobs, so its add→start includes the queue that builds up. \"load generator alone\" is the create→result \
client against an in-process server that answers at once: the harness's own ceiling in this run.\n\n";

fn ms(value: f64) -> String {
    format!("{value:.2}")
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn latency_cells(latency: &Latency) -> [String; 4] {
    [
        ms(latency.p50),
        ms(latency.p90),
        ms(latency.p99),
        ms(latency.max),
    ]
}

fn round_row(out: &mut String, name: &str, round: &Round, latency: &Latency) {
    let [p50, p90, p99, max] = latency_cells(latency);
    row(
        out,
        &[
            name.to_owned(),
            round.clients.to_string(),
            format!("{:.0}", round.throughput),
            p50,
            p90,
            p99,
            max,
            format!("{} / {}", round.error_count(), round.ok),
        ],
    );
}

fn results_table(out: &mut String, results: &Results) {
    out.push_str("## Results\n\n");
    out.push_str("| measurement | clients | per second | p50 ms | p90 ms | p99 ms | max ms | errors / ok |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    let dash = || "–".to_owned();
    for run in &results.pgbench {
        let p50 = run.p50_ms.map_or_else(dash, ms);
        let p99 = run.p99_ms.map_or_else(dash, ms);
        let max = run.max_ms.map_or_else(dash, ms);
        row(
            out,
            &[
                format!(
                    "pgbench 1-row INSERT/txn (avg {} ms)",
                    ms(run.latency_avg_ms)
                ),
                run.clients.to_string(),
                format!("{:.0}", run.tps),
                p50,
                dash(),
                p99,
                max,
                format!("{} / –", run.failed),
            ],
        );
    }
    for round in &results.create_result {
        round_row(out, "Canopy create→result", round, &round.latency);
    }
    for round in &results.create_assign {
        round_row(out, "Canopy create→assign", round, &round.latency);
        if let Some(created) = &round.create_latency {
            round_row(out, "  of which POST→201", round, created);
        }
    }
    for round in &results.calibration {
        round_row(
            out,
            "load generator alone (in-process server)",
            round,
            &round.latency,
        );
    }
    match &results.graphile {
        Some(graphile) if graphile.status == "ok" => {
            let latency = graphile.latency_ms.unwrap_or_default();
            let [p50, p90, p99, max] = latency_cells(&latency);
            let version = graphile.version.as_deref().unwrap_or("?");
            row(
                out,
                &[
                    format!(
                        "graphile-worker {version} add→start (jobs/s done; concurrency {}, {} added)",
                        graphile.concurrency, graphile.added
                    ),
                    graphile.producers.to_string(),
                    format!("{:.0}", graphile.jobs_per_s),
                    p50,
                    p90,
                    p99,
                    max,
                    format!("{} / {}", graphile.add_errors, graphile.completed),
                ],
            );
        }
        Some(graphile) => {
            let reason = graphile.reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(out, "| graphile-worker: skipped ({reason}) | | | | | | | |");
        }
        None => out.push_str("| graphile-worker: not run | | | | | | | |\n"),
    }
    out.push('\n');
}

fn targets_table(out: &mut String, results: &Results) {
    out.push_str("## Targets and ratios (this run)\n\n");
    out.push_str("| check | measured | target | met |\n|---|---:|---|---|\n");
    for check in checks(results) {
        let measured = match check.measured {
            Some(value) if check.unit == "×" => format!("{value:.3}×"),
            Some(value) if check.unit == "ms" => format!("{value:.2} ms"),
            Some(value) => format!("{value:.0}{}", check.unit),
            None => "not measured".to_owned(),
        };
        let target = match check.goal {
            Goal::AtLeast(bound) => format!("≥ {}{}", number(bound), check.unit),
            Goal::AtMost(bound) => format!("≤ {}{}", number(bound), spaced(check.unit)),
            Goal::Info => "–".to_owned(),
        };
        let met = match check.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        row(
            out,
            &[check.name.to_owned(), measured, target, met.to_owned()],
        );
    }
    out.push('\n');
}

fn spaced(unit: &str) -> String {
    if unit == "ms" {
        " ms".to_owned()
    } else {
        unit.to_owned()
    }
}

fn number(value: f64) -> String {
    if value >= 1000.0 {
        let whole = value as u64;
        format!("{},{:03}", whole / 1000, whole % 1000)
    } else {
        format!("{value}")
    }
}

fn errors(out: &mut String, results: &Results) {
    let mut lines = Vec::new();
    let rounds = results
        .create_result
        .iter()
        .map(|round| ("create→result", round))
        .chain(
            results
                .create_assign
                .iter()
                .map(|round| ("create→assign", round)),
        );
    for (phase, round) in rounds {
        for (kind, count) in &round.errors {
            lines.push(format!(
                "- {phase}, {} clients: {count} × {kind}",
                round.clients
            ));
        }
        for (kind, count) in &round.warmup_errors {
            lines.push(format!(
                "- {phase}, {} clients, during warm-up (not counted above): {count} × {kind}",
                round.clients
            ));
        }
        if let Some(unmatched) = round.unmatched_assigns.filter(|n| *n > 0) {
            lines.push(format!(
                "- {phase}, {} clients: {unmatched} assignments of tasks from earlier phases",
                round.clients
            ));
        }
    }
    for run in results.pgbench.iter().filter(|run| run.failed > 0) {
        lines.push(format!(
            "- pgbench, {} clients: {} failed transactions",
            run.clients, run.failed
        ));
    }
    out.push_str("## Errors\n\n");
    if lines.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str(&lines.join("\n"));
        out.push('\n');
    }
}
