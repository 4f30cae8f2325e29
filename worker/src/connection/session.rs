//! One connected session: `hello`/`welcome`, credits, assignments, results, heartbeats, and the
//! graceful end (`goodbye`).

use std::time::{Duration, Instant};

use canopy_shared::protocol::{
    Assignment, DispatcherMessage, Heartbeat, Outcome, TaskResult, Timings, Welcome, WorkerMessage,
};
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, info_span, warn, Instrument};

use super::wire::{next_message, result_of, write_loop, Outbox};
use super::{Finished, Running, SessionEnd, Socket, Supervisor};
use crate::executor::TaskRunner;

impl<R: TaskRunner> Supervisor<R> {
    pub(super) async fn session(&mut self, socket: Socket) -> SessionEnd {
        let (sink, mut stream) = socket.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut writer = tokio::spawn(write_loop(sink, rx));
        let outbox = Outbox { tx };
        let (end, writer_done) = self.serve(&outbox, &mut stream, &mut writer).await;
        drop(outbox);
        if !writer_done {
            if let Ok(unsent) = writer.await {
                self.unsent.extend(unsent);
            }
        }
        end
    }

    fn send_or_keep(&mut self, outbox: &Outbox, message: WorkerMessage) {
        if let Some(message) = outbox.send(message) {
            self.unsent.extend(result_of(message));
        }
    }

    async fn serve(
        &mut self,
        outbox: &Outbox,
        stream: &mut SplitStream<Socket>,
        writer: &mut JoinHandle<Vec<TaskResult>>,
    ) -> (SessionEnd, bool) {
        let _ = outbox.send(WorkerMessage::Hello(self.hello()));
        let welcome =
            match tokio::time::timeout(self.settings.welcome_timeout, next_message(stream)).await {
                Ok(Ok(DispatcherMessage::Welcome(welcome))) => welcome,
                Ok(Ok(DispatcherMessage::Error { code, message })) => {
                    return (
                        SessionEnd::Lost(format!("refused by the dispatcher: {code}: {message}")),
                        false,
                    )
                }
                Ok(Ok(other)) => {
                    return (
                        SessionEnd::Lost(format!("expected welcome, got {other:?}")),
                        false,
                    )
                }
                Ok(Err(reason)) => return (SessionEnd::Lost(reason), false),
                Err(_) => return (SessionEnd::Lost("no welcome in time".into()), false),
            };
        let Welcome {
            session_id,
            heartbeat_interval_ms,
            ..
        } = welcome;
        info!(session.id = %session_id, running = self.running.len(), "connected to the dispatcher");
        let max = self.resources.max_concurrency as usize;
        let mut draining = false;
        let free = max.saturating_sub(self.running.len()) as u32;
        self.announce_owner_pause(outbox);
        if self.stopping_since.is_none() && self.owner.is_open() && free > 0 {
            let _ = outbox.send(WorkerMessage::Pull { credits: free });
        }
        while let Some(mut result) = self.unsent.pop_front() {
            // The `pull` above already offered every free slot of this new session.
            result.regrant = false;
            self.send_or_keep(outbox, WorkerMessage::Result(result));
        }
        let every = Duration::from_millis(heartbeat_interval_ms.max(100));
        let mut heartbeat = tokio::time::interval_at((Instant::now() + every).into(), every);
        let mut handed_back = false;
        loop {
            if self.stopping_since.is_some() && self.running.is_empty() {
                let _ = outbox.send(WorkerMessage::Goodbye {
                    reason: "shutdown".into(),
                });
                outbox.close();
                return (SessionEnd::Done, false);
            }
            let deadline = self.grace_deadline().unwrap_or_else(Instant::now);
            let handback_at = self.owner.handback_at();
            tokio::select! {
                _ = self.owner.changed() => {
                    let may_pull = self.stopping_since.is_none() && !draining;
                    self.on_owner_gate(outbox, may_pull);
                }
                _ = tokio::time::sleep_until(handback_at.unwrap_or_else(Instant::now).into()), if handback_at.is_some() => {
                    self.hand_back_for_owner();
                }
                message = next_message(stream) => match message {
                    Ok(message) => self.on_message(outbox, message, &mut draining),
                    Err(reason) => return (SessionEnd::Lost(reason), false),
                },
                Some(finished) = self.finished_rx.recv() => {
                    let regrant = self.stopping_since.is_none() && !draining && self.owner.is_open();
                    self.on_finished(outbox, finished, regrant, handed_back);
                }
                _ = heartbeat.tick() => {
                    let beat = self.heartbeat();
                    let _ = outbox.send(WorkerMessage::Heartbeat(beat));
                    if let Some(energy) = self.energy_update() {
                        let _ = outbox.send(WorkerMessage::Energy(energy));
                    }
                }
                _ = self.shutdown.cancelled(), if self.stopping_since.is_none() => {
                    info!(running = self.running.len(), "shutting down: no new tasks; waiting for running ones");
                    self.stopping_since = Some(Instant::now());
                }
                _ = tokio::time::sleep_until(deadline.into()), if self.stopping_since.is_some() && !handed_back => {
                    warn!(running = self.running.len(), "grace period over: handing running tasks back");
                    handed_back = true;
                    self.cancel_all();
                }
                unsent = &mut *writer => {
                    self.unsent.extend(unsent.unwrap_or_default());
                    return (SessionEnd::Lost("write failed".into()), true);
                }
            }
        }
    }

    fn heartbeat(&self) -> Heartbeat {
        let host = self.host.borrow();
        Heartbeat {
            free_memory_mb: host.available_memory_mb.min(self.resources.memory_mb),
            cpu_busy_percent: host.cpu_busy_percent,
            running: self.running.keys().map(|(task, _)| task.clone()).collect(),
            warm_functions: self.runner.warm_functions(),
        }
    }

    fn on_message(&mut self, outbox: &Outbox, message: DispatcherMessage, draining: &mut bool) {
        match message {
            DispatcherMessage::Assign(assignment) => self.on_assign(outbox, *assignment),
            DispatcherMessage::Cancel { task_id, attempt } => {
                if let Some(running) = self.running.get_mut(&(task_id.clone(), attempt)) {
                    info!(task.id = %task_id, task.attempt = attempt, "cancelled by the dispatcher");
                    running.discard = true;
                    running.cancel.cancel();
                }
            }
            DispatcherMessage::Drain => {
                info!("the dispatcher asks to drain: no new tasks on this connection");
                *draining = true;
            }
            DispatcherMessage::Error { code, message } => {
                warn!(%code, %message, "error from the dispatcher");
            }
            DispatcherMessage::Welcome(_) => debug!("ignoring a second welcome"),
            DispatcherMessage::Compile(job) => {
                let runner = self.runner.clone();
                tokio::spawn(async move { runner.compile(job).await });
            }
            DispatcherMessage::Prewarm {
                request_id,
                function,
                instances,
            } => {
                let (runner, outbox) = (self.runner.clone(), outbox.clone());
                let span = info_span!("prewarm", function = %function.version_key(), instances);
                tokio::spawn(
                    async move {
                        let started = runner.prewarm(*function, instances).await;
                        let _ = outbox.send(WorkerMessage::Prewarmed {
                            request_id,
                            started,
                        });
                    }
                    .instrument(span),
                );
            }
        }
    }

    fn on_assign(&mut self, outbox: &Outbox, assignment: Assignment) {
        let key = (assignment.task_id.clone(), assignment.attempt);
        if self.running.contains_key(&key) {
            warn!(task.id = %key.0, task.attempt = key.1, "duplicate assignment ignored");
            return;
        }
        let refusal = if self.stopping_since.is_some() {
            Some("the worker is shutting down")
        } else if !self.owner.is_open() {
            Some("the owner paused this node")
        } else if self.running.len() >= self.resources.max_concurrency as usize {
            Some("assigned beyond the granted credits")
        } else {
            None
        };
        if let Some(reason) = refusal {
            warn!(task.id = %key.0, reason, "assignment handed back");
            let result = TaskResult {
                regrant: false,
                image_pin: None,
                task_id: key.0,
                attempt: key.1,
                outcome: Outcome::Failed {
                    message: reason.to_owned(),
                    retryable: true,
                },
                timings: Timings::default(),
                usage: None,
            };
            self.send_or_keep(outbox, WorkerMessage::Result(result));
            return;
        }
        let _ = outbox.send(WorkerMessage::Started {
            task_id: key.0.clone(),
            attempt: key.1,
        });
        let cancel = CancellationToken::new();
        let span = info_span!("task", task.id = %key.0, task.attempt = key.1, function = %assignment.function.version_key());
        let (runner, done, token, task_key) = (
            self.runner.clone(),
            self.finished_tx.clone(),
            cancel.clone(),
            key.clone(),
        );
        tokio::spawn(
            async move {
                let result = runner.run(assignment, token).await;
                debug!(
                    init_ms = result.timings.init_ms,
                    exec_ms = result.timings.exec_ms,
                    warm = result.timings.warm,
                    "task finished"
                );
                let _ = done.send(Finished {
                    key: task_key,
                    result,
                });
            }
            .instrument(span),
        );
        self.running.insert(
            key,
            Running {
                cancel,
                discard: false,
            },
        );
    }

    fn on_finished(
        &mut self,
        outbox: &Outbox,
        finished: Finished,
        regrant: bool,
        handed_back: bool,
    ) {
        let Some(running) = self.running.remove(&finished.key) else {
            return;
        };
        if running.discard {
            if regrant {
                let _ = outbox.send(WorkerMessage::Pull { credits: 1 });
            }
            return;
        }
        let mut result = finished.result;
        self.owner.explain(&mut result);
        if handed_back && matches!(result.outcome, Outcome::Failed { .. }) {
            result.outcome = Outcome::Failed {
                message: "the worker shut down before the task finished".into(),
                retryable: true,
            };
        }
        result.regrant = regrant;
        self.send_or_keep(outbox, WorkerMessage::Result(result));
    }
}
