//! Counters of the dispatch path, rendered for Prometheus at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::histogram::{Histogram, BATCH_BUCKETS, LATENCY_BUCKETS};

/// Counters and histograms of this replica.
#[derive(Debug)]
pub struct Metrics {
    pub tasks_assigned: AtomicU64,
    /// Of `tasks_assigned`: assigned in the commit that created them (no queue, no claim).
    pub tasks_assigned_at_submit: AtomicU64,
    pub results_recorded: AtomicU64,
    /// `started`/`progress`/`result` for an attempt that is no longer current: refused, task unchanged.
    pub stale_messages: AtomicU64,
    pub tasks_retried: AtomicU64,
    pub leases_expired: AtomicU64,
    pub lost_node_requeues: AtomicU64,
    /// Connections closed for breaking the protocol (malformed, foreign task, flood, oversized).
    pub protocol_violations: AtomicU64,
    pub worker_connections: AtomicU64,
    /// Deferrable tasks held for a greener window at submission.
    pub tasks_deferred: AtomicU64,
    /// Issue → assignment, s.
    pub queue_wait: Histogram,
    /// Submission received → `assign` frame queued for the worker, s (tasks placed at submit).
    pub dispatch_latency: Histogram,
    /// Issue → result committed, s.
    pub end_to_end: Histogram,
    /// Tasks per group commit.
    pub commit_batch: Histogram,
    /// CPU time and energy of ended tasks per function, node and account.
    pub energy: super::energy::EnergyCounters,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            tasks_assigned: AtomicU64::new(0),
            tasks_assigned_at_submit: AtomicU64::new(0),
            results_recorded: AtomicU64::new(0),
            stale_messages: AtomicU64::new(0),
            tasks_retried: AtomicU64::new(0),
            leases_expired: AtomicU64::new(0),
            lost_node_requeues: AtomicU64::new(0),
            protocol_violations: AtomicU64::new(0),
            worker_connections: AtomicU64::new(0),
            tasks_deferred: AtomicU64::new(0),
            queue_wait: Histogram::new(LATENCY_BUCKETS),
            dispatch_latency: Histogram::new(LATENCY_BUCKETS),
            end_to_end: Histogram::new(LATENCY_BUCKETS),
            commit_batch: Histogram::new(BATCH_BUCKETS),
            energy: Default::default(),
        }
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn incr(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    /// Prometheus text exposition, with `connected` workers as a gauge.
    pub fn render(&self, connected_workers: usize, waiting_tasks: usize) -> String {
        let counters = [
            (
                "canopy_tasks_assigned_total",
                "Tasks handed to workers.",
                &self.tasks_assigned,
            ),
            (
                "canopy_tasks_assigned_at_submit_total",
                "Tasks assigned in the commit that created them.",
                &self.tasks_assigned_at_submit,
            ),
            (
                "canopy_results_recorded_total",
                "Attempt results recorded.",
                &self.results_recorded,
            ),
            (
                "canopy_tasks_deferred_total",
                "Deferrable tasks held for a greener window.",
                &self.tasks_deferred,
            ),
            (
                "canopy_stale_messages_total",
                "Messages for attempts that are no longer current (fenced).",
                &self.stale_messages,
            ),
            (
                "canopy_tasks_retried_total",
                "Attempts re-queued after a failure that was not the function's fault.",
                &self.tasks_retried,
            ),
            (
                "canopy_leases_expired_total",
                "Attempts re-queued because their lease ran out.",
                &self.leases_expired,
            ),
            (
                "canopy_lost_node_requeues_total",
                "Attempts re-queued after their worker disconnected.",
                &self.lost_node_requeues,
            ),
            (
                "canopy_protocol_violations_total",
                "Worker connections closed for breaking the protocol.",
                &self.protocol_violations,
            ),
            (
                "canopy_worker_connections_total",
                "Worker connections accepted.",
                &self.worker_connections,
            ),
        ];
        let mut out = String::new();
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP canopy_connected_workers Workers connected to this replica.\n# TYPE canopy_connected_workers gauge\ncanopy_connected_workers {connected_workers}"
        );
        let _ = writeln!(
            out,
            "# HELP canopy_awaited_tasks Tasks with callers waiting for their end on this replica.\n# TYPE canopy_awaited_tasks gauge\ncanopy_awaited_tasks {waiting_tasks}"
        );
        let histograms = [
            (
                "canopy_queue_wait_seconds",
                "Task issue to assignment.",
                &self.queue_wait,
            ),
            (
                "canopy_dispatch_latency_seconds",
                "Submission received to assign frame sent (tasks assigned at submit).",
                &self.dispatch_latency,
            ),
            (
                "canopy_end_to_end_seconds",
                "Task issue to result committed.",
                &self.end_to_end,
            ),
            (
                "canopy_commit_batch_size",
                "Tasks per group commit.",
                &self.commit_batch,
            ),
        ];
        for (name, help, histogram) in histograms {
            histogram.render(&mut out, name, help);
        }
        self.energy.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_prometheus_text_format() {
        let metrics = Metrics::default();
        Metrics::incr(&metrics.stale_messages);
        Metrics::add(&metrics.tasks_assigned, 3);
        let text = metrics.render(2, 0);
        assert!(text.contains("\ncanopy_stale_messages_total 1\n"));
        assert!(text.contains("\ncanopy_tasks_assigned_total 3\n"));
        assert!(
            text.contains("# TYPE canopy_connected_workers gauge\ncanopy_connected_workers 2\n")
        );
    }
}
