//! The task state machine: its states, which moves between them are legal, and how a state is
//! stored (the `status` text column).

use std::fmt;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// Where a task is in its life.
///
/// ```text
/// queued ──assign──▶ assigned ──started──▶ running ──▶ succeeded | failed | timed_out
///    ▲                   │                     │
///    └──requeue──────────┴─────────────────────┘  (attempt + 1; out of attempts: failed)
/// queued | assigned | running ──cancel──▶ cancelled
/// queued ──deadline passed──▶ failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Queued,
    Assigned,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Queued,
        TaskStatus::Assigned,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::TimedOut,
        TaskStatus::Cancelled,
    ];

    /// States a worker holds an attempt in (leases and fencing apply).
    pub const HELD: [TaskStatus; 2] = [TaskStatus::Assigned, TaskStatus::Running];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::TimedOut => "timed_out",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<TaskStatus> {
        TaskStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the task has ended (its output will not change).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::TimedOut
                | TaskStatus::Cancelled
        )
    }

    /// Whether a task may move from `self` to `next`. The SQL of every transition names the
    /// states it moves from; this table is the one written statement of the rules, and the tests
    /// below pin it.
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        match (self, next) {
            // Assignment, and a task created already assigned to a worker with credits.
            (Queued, Assigned) => true,
            (Assigned, Running) => true,
            // A fast worker's result may arrive before (or with) its `started`.
            (Assigned | Running, Succeeded | Failed | TimedOut) => true,
            // Re-queued: lost node, expired lease, retryable failure.
            (Assigned | Running, Queued) => true,
            (Queued | Assigned | Running, Cancelled) => true,
            // Deadline passed while queued.
            (Queued, Failed) => true,
            _ => false,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Type<Postgres> for TaskStatus {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for TaskStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

impl Decode<'_, Postgres> for TaskStatus {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Postgres>>::decode(value)?;
        TaskStatus::parse(text).ok_or_else(|| format!("unknown task status {text:?}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::{self, *};

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TaskStatus::parse("done"), None);
    }

    #[test]
    fn final_states_go_nowhere() {
        for from in TaskStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in TaskStatus::ALL {
                assert!(!from.can_become(to), "{from} → {to}");
            }
        }
    }

    #[test]
    fn the_legal_moves_are_exactly_the_diagram() {
        let legal: Vec<(TaskStatus, TaskStatus)> = TaskStatus::ALL
            .into_iter()
            .flat_map(|from| TaskStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        let expected = vec![
            (Queued, Assigned),
            (Queued, Failed),
            (Queued, Cancelled),
            (Assigned, Queued),
            (Assigned, Running),
            (Assigned, Succeeded),
            (Assigned, Failed),
            (Assigned, TimedOut),
            (Assigned, Cancelled),
            (Running, Queued),
            (Running, Succeeded),
            (Running, Failed),
            (Running, TimedOut),
            (Running, Cancelled),
        ];
        assert_eq!(legal, expected);
    }

    #[test]
    fn only_assigned_and_running_are_held_by_a_worker() {
        assert!(TaskStatus::HELD
            .iter()
            .all(|s| !s.is_final() && *s != Queued));
    }
}
