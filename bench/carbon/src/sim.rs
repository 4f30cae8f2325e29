//! The simulation: a one-second clock, nodes with slots in grid zones, tasks arriving, and a
//! placement policy that is either the dispatcher's real one (`policy::order` over the nodes'
//! current intensities, `policy::defer` over their forecasts) or the same code with the
//! intensities hidden (carbon-blind: least loaded first, nothing held).

use std::collections::{HashMap, VecDeque};

use canopy_dispatcher::dispatch::policy::{
    defer, order, Deferral, DeferralRequest, NodeForecast, Offer,
};
use canopy_shared::carbon::Forecast;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// One task of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    pub arrival: i64,
    /// Seconds it runs.
    pub run_s: i64,
    /// `Prefer: defer`: must finish by then.
    pub deadline: Option<i64>,
}

/// A grid zone: its name and intensity trace.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub trace: Forecast,
}

/// How tasks are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Intensities hidden from the ranking, nothing deferred: placement before this work.
    Blind,
    /// The ranking sees intensities; nothing deferred.
    GreenPlacement,
    /// The ranking sees intensities and deferrable tasks wait for greener windows.
    GreenAndDeferral,
}

/// The knobs of a run.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub nodes_per_zone: usize,
    pub slots_per_node: u32,
    /// Power of one busy slot (one core), W.
    pub watts_per_slot: f64,
    /// The function timeout the deferral plans for, s.
    pub timeout_s: i64,
    pub slack_s: i64,
    pub min_gain_percent: u32,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub grams: f64,
    pub kwh: f64,
    pub deferred: usize,
    pub deadline_misses: usize,
    /// Finish − arrival, s, of tasks without a deadline and of deferrable ones.
    pub interactive_s: Vec<i64>,
    pub deferrable_s: Vec<i64>,
    /// Last finish − first arrival, s.
    pub makespan_s: i64,
}

struct Node {
    zone: usize,
    free: u32,
}

/// Runs `tasks` (sorted by arrival) through `mode`; `rng` breaks ties between equal offers
/// (the dispatcher's registry is a hash map: its order is arbitrary).
pub fn run(
    zones: &[Zone],
    tasks: &[Task],
    setup: &Setup,
    mode: Mode,
    rng: &mut StdRng,
) -> anyhow::Result<Outcome> {
    let mut nodes: Vec<Node> = (0..zones.len())
        .flat_map(|zone| (0..setup.nodes_per_zone).map(move |_| zone))
        .map(|zone| Node {
            zone,
            free: setup.slots_per_node,
        })
        .collect();
    let forecasts: Vec<NodeForecast<'_>> = nodes
        .iter()
        .map(|node| NodeForecast {
            forecast: &zones[node.zone].trace,
            slots: setup.slots_per_node,
        })
        .collect();
    let mut bookings: HashMap<i64, u32> = HashMap::new();
    let start = tasks.first().map_or(0, |task| task.arrival);
    let mut outcome = Outcome::default();
    let mut arrivals = tasks.iter().peekable();
    let mut held: Vec<(i64, Task)> = Vec::new();
    let mut queue: VecDeque<Task> = VecDeque::new();
    // (end, node, task)
    let mut running: Vec<(i64, usize, Task)> = Vec::new();
    let mut now = start;
    let mut last_finish = start;
    while arrivals.peek().is_some() || !held.is_empty() || !queue.is_empty() || !running.is_empty()
    {
        running.retain(|&(end, node, task)| {
            if end > now {
                return true;
            }
            nodes[node].free += 1;
            last_finish = last_finish.max(end);
            match task.deadline {
                Some(deadline) => {
                    outcome.deferrable_s.push(end - task.arrival);
                    if end > deadline {
                        outcome.deadline_misses += 1;
                    }
                }
                None => outcome.interactive_s.push(end - task.arrival),
            }
            false
        });
        while let Some(task) = arrivals.next_if(|task| task.arrival <= now) {
            let seat_now = greenest_free(&nodes, zones, now);
            match hold(task, now, seat_now, setup, mode, &forecasts, &mut bookings) {
                Some(until) => {
                    outcome.deferred += 1;
                    held.push((until, *task));
                }
                None => queue.push_back(*task),
            }
        }
        held.retain(|&(until, task)| {
            let due = until <= now;
            if due {
                queue.push_back(task);
            }
            !due
        });
        while let Some(task) = queue.front().copied() {
            let Some(node) = choose(&nodes, zones, now, mode, rng) else {
                break;
            };
            queue.pop_front();
            nodes[node].free -= 1;
            let end = now + task.run_s;
            let grams_kwh = integrate(&zones[nodes[node].zone].trace, now, end)?;
            let kwh = setup.watts_per_slot * task.run_s as f64 / 3600.0 / 1000.0;
            outcome.kwh += kwh;
            outcome.grams += setup.watts_per_slot / 3600.0 / 1000.0 * grams_kwh;
            running.push((end, node, task));
        }
        now += 1;
    }
    outcome.makespan_s = last_finish - start;
    Ok(outcome)
}

/// The dispatcher's deferral decision for a task with a deadline (green mode only), booking the
/// window it is held for as the dispatcher does.
fn hold(
    task: &Task,
    now: i64,
    seat_now: Option<u32>,
    setup: &Setup,
    mode: Mode,
    forecasts: &[NodeForecast<'_>],
    bookings: &mut HashMap<i64, u32>,
) -> Option<i64> {
    let deadline = task.deadline.filter(|_| mode == Mode::GreenAndDeferral)?;
    let request = DeferralRequest {
        now,
        deadline,
        run_s: setup.timeout_s,
        slack_s: setup.slack_s,
        min_gain_percent: setup.min_gain_percent,
        now_intensity: seat_now,
    };
    let booked = |window: i64| bookings.get(&window).copied().unwrap_or(0);
    match defer(&request, forecasts, &booked) {
        Deferral::Wait { until, window, .. } => {
            *bookings.entry(window).or_insert(0) += 1;
            Some(until)
        }
        Deferral::RunNow => None,
    }
}

/// The intensity of the greenest node with a free slot now (where the task would run).
fn greenest_free(nodes: &[Node], zones: &[Zone], now: i64) -> Option<u32> {
    nodes
        .iter()
        .filter(|node| node.free > 0)
        .filter_map(|node| zones[node.zone].trace.intensity_at(now))
        .min()
}

/// The node the dispatcher's ranking picks among those with a free slot.
fn choose(nodes: &[Node], zones: &[Zone], now: i64, mode: Mode, rng: &mut StdRng) -> Option<usize> {
    let mut free: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].free > 0).collect();
    free.shuffle(rng);
    let offers: Vec<Offer> = free
        .iter()
        .map(|&i| Offer {
            warm: false,
            intensity: match mode {
                Mode::Blind => None,
                _ => zones[nodes[i].zone].trace.intensity_at(now),
            },
            latency_ms: None,
            credits: nodes[i].free,
        })
        .collect();
    order(&offers, false).first().map(|&index| free[index])
}

/// ∫ intensity dt over `[from, to)`, gCO₂e/kWh × s.
fn integrate(trace: &Forecast, from: i64, to: i64) -> anyhow::Result<f64> {
    let mut total = 0.0;
    let mut at = from;
    let mut changes: Vec<i64> = trace.changes_between(from, to).collect();
    changes.push(to);
    for next in changes {
        let intensity = trace
            .intensity_at(at)
            .ok_or_else(|| anyhow::anyhow!("the trace does not cover {at}"))?;
        total += f64::from(intensity) * (next - at) as f64;
        at = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use canopy_shared::carbon::IntensityPoint;
    use rand::SeedableRng;

    use super::*;

    fn zone(name: &str, points: &[(i64, u32)]) -> Zone {
        Zone {
            name: name.into(),
            trace: Forecast::new(
                points
                    .iter()
                    .map(|&(at, intensity)| IntensityPoint { at, intensity })
                    .collect(),
            ),
        }
    }

    const SETUP: Setup = Setup {
        nodes_per_zone: 1,
        slots_per_node: 1,
        watts_per_slot: 3600.0,
        timeout_s: 10,
        slack_s: 0,
        min_gain_percent: 10,
    };

    #[test]
    fn green_placement_picks_the_cleaner_zone_and_deferral_the_cleaner_hour() {
        let zones = [
            zone("dirty", &[(0, 400), (100, 400), (200, 400)]),
            zone("clean", &[(0, 100), (100, 10), (200, 10)]),
        ];
        let tasks = [Task {
            arrival: 0,
            run_s: 10,
            deadline: Some(150),
        }];
        // 3600 W for 10 s is 0.01 kWh.
        let rng = &mut StdRng::seed_from_u64(1);
        let blind = run(&zones, &tasks, &SETUP, Mode::Blind, rng).expect("runs");
        assert!(
            (blind.grams - 4.0).abs() < 1e-9 || (blind.grams - 1.0).abs() < 1e-9,
            "{}",
            blind.grams
        );
        let green = run(&zones, &tasks, &SETUP, Mode::GreenPlacement, rng).expect("runs");
        assert!((green.grams - 1.0).abs() < 1e-9, "{}", green.grams);
        let deferred = run(&zones, &tasks, &SETUP, Mode::GreenAndDeferral, rng).expect("runs");
        assert!((deferred.grams - 0.1).abs() < 1e-9, "{}", deferred.grams);
        assert_eq!((deferred.deferred, deferred.deadline_misses), (1, 0));
    }

    #[test]
    fn integration_follows_the_steps() {
        let trace = zone("z", &[(0, 100), (10, 200), (20, 300)]).trace;
        assert_eq!(integrate(&trace, 5, 15).ok(), Some(1500.0));
        assert!(integrate(&trace, -5, 5).is_err());
    }
}
