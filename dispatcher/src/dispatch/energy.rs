//! CPU time and energy of ended tasks, summed per function, node and account on this replica,
//! for Prometheus (each replica counts what it recorded; a query sums over replicas).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use uuid::Uuid;

/// (CPU seconds, Wh) by id, per kind of owner.
#[derive(Debug, Default)]
pub struct EnergyCounters {
    sums: Mutex<[HashMap<Uuid, (f64, f64)>; 3]>,
}

/// The label of each kind, in the order of `sums`.
const KINDS: [&str; 3] = ["function", "node", "account"];

impl EnergyCounters {
    /// Adds one ended task's usage.
    pub fn record(
        &self,
        function: Uuid,
        node: Uuid,
        account: Uuid,
        cpu_seconds: f64,
        energy_wh: f64,
    ) {
        let Ok(mut sums) = self.sums.lock() else {
            return;
        };
        for (map, id) in sums.iter_mut().zip([function, node, account]) {
            let entry = map.entry(id).or_default();
            entry.0 += cpu_seconds;
            entry.1 += energy_wh;
        }
    }

    /// `canopy_task_cpu_seconds_total{function=…}` and `canopy_task_energy_wh_total{…}` lines.
    pub fn render(&self, out: &mut String) {
        let Ok(sums) = self.sums.lock() else {
            return;
        };
        for (metric, help, pick) in [
            (
                "canopy_task_cpu_seconds_total",
                "CPU time of ended tasks, from their containers' cgroups, s.",
                0,
            ),
            (
                "canopy_task_energy_wh_total",
                "Energy attributed to ended tasks (power model or RAPL), Wh.",
                1,
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
            for (kind, map) in KINDS.iter().zip(sums.iter()) {
                let mut rows: Vec<(&Uuid, &(f64, f64))> = map.iter().collect();
                rows.sort_by_key(|(id, _)| **id);
                for (id, values) in rows {
                    let value = if pick == 0 { values.0 } else { values.1 };
                    let id = canopy_shared::format_id(*id);
                    let _ = writeln!(out, "{metric}{{{kind}=\"{id}\"}} {value}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_summed_per_function_node_and_account() {
        let counters = EnergyCounters::default();
        let (f, n, a) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        counters.record(f, n, a, 1.5, 0.25);
        counters.record(f, Uuid::from_u128(4), a, 0.5, 0.25);
        let mut text = String::new();
        counters.render(&mut text);
        let f = canopy_shared::format_id(f);
        let a = canopy_shared::format_id(a);
        let n = canopy_shared::format_id(n);
        assert!(
            text.contains(&format!(
                "canopy_task_cpu_seconds_total{{function=\"{f}\"}} 2\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "canopy_task_energy_wh_total{{account=\"{a}\"}} 0.5\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "canopy_task_energy_wh_total{{node=\"{n}\"}} 0.25\n"
            )),
            "{text}"
        );
        assert!(text.contains("# TYPE canopy_task_energy_wh_total counter"));
    }
}
