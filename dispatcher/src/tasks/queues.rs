//! The queues in front of the batch writers: submissions for the group commit, worker reports
//! for the report writer. Bounded, so a burst waits instead of growing memory without limit.

use tokio::sync::{mpsc, oneshot};

use super::reports::Report;
use super::submit::{Pending, Submitted};
use super::TaskError;

/// Submissions waiting for a group commit at most (then `submit` waits for room).
const SUBMISSION_QUEUE: usize = 16 * 1024;
/// Worker reports waiting for the writer at most (then the gateway waits for room).
const REPORT_QUEUE: usize = 64 * 1024;

/// The sending ends, in the application state.
#[derive(Debug, Clone)]
pub struct TaskQueues {
    pub(super) submissions: mpsc::Sender<Pending>,
    pub(super) reports: mpsc::Sender<Report>,
}

/// The receiving ends, handed to the loops at start.
#[derive(Debug)]
pub struct Queues {
    pub(super) submissions: mpsc::Receiver<Pending>,
    pub(super) reports: mpsc::Receiver<Report>,
}

impl TaskQueues {
    pub fn new() -> (TaskQueues, Queues) {
        let (submissions, submissions_rx) = mpsc::channel(SUBMISSION_QUEUE);
        let (reports, reports_rx) = mpsc::channel(REPORT_QUEUE);
        (
            TaskQueues {
                submissions,
                reports,
            },
            Queues {
                submissions: submissions_rx,
                reports: reports_rx,
            },
        )
    }
}

/// The answer a submitter waits for.
pub(super) type Reply = oneshot::Sender<Result<Submitted, TaskError>>;
