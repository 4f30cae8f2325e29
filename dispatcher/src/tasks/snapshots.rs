//! Function snapshots remembered by this replica, so a group commit does not read its
//! functions first. A remembered snapshot is only a guess: the insert re-checks each row against
//! the function as it is (`db::submissions::insert_batch`), and a row whose function changed
//! (paused, deleted, new build, new capabilities) is not inserted; its snapshot is forgotten and
//! the submission is tried again with a fresh read.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;

use crate::db::submissions::FunctionSnapshotRow;

/// Functions remembered at most; past it the memory starts over (a read per function refills it).
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct FunctionSnapshots {
    known: Mutex<HashMap<Uuid, FunctionSnapshotRow>>,
}

impl FunctionSnapshots {
    /// The remembered snapshots of `ids`, and the ids it does not know.
    pub fn lookup(&self, ids: &[Uuid]) -> (HashMap<Uuid, FunctionSnapshotRow>, Vec<Uuid>) {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        if let Ok(known) = self.known.lock() {
            for id in ids {
                match known.get(id) {
                    Some(row) => {
                        found.insert(*id, row.clone());
                    }
                    None => missing.push(*id),
                }
            }
        } else {
            missing.extend_from_slice(ids);
        }
        (found, missing)
    }

    /// Remembers snapshots just read. Paused functions are not remembered: their submissions are
    /// refused, and an unpause must be seen at once. Nor are functions whose build is `PENDING`:
    /// its artifact changes (to the compiled package) under the same build id.
    pub fn remember(&self, rows: &[FunctionSnapshotRow]) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() + rows.len() > CAPACITY {
                known.clear();
            }
            for row in rows
                .iter()
                .filter(|row| !row.paused && row.build_status.as_deref() != Some("PENDING"))
            {
                known.insert(row.id, row.clone());
            }
        }
    }

    /// Forgets functions whose snapshot turned out stale.
    pub fn forget(&self, ids: &[Uuid]) {
        if let Ok(mut known) = self.known.lock() {
            for id in ids {
                known.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u128, paused: bool) -> FunctionSnapshotRow {
        FunctionSnapshotRow {
            id: Uuid::from_u128(id),
            account_id: Uuid::from_u128(100),
            lang: "PY".into(),
            timeout_s: 10,
            cpu_count: 0,
            mem_size_mb: 0,
            network_latency_ms: 0,
            privileged: false,
            volunteers: false,
            paused,
            build_id: Some(Uuid::from_u128(200)),
            build_status: Some("SUCCESS".into()),
            artifact_sha256: Some("ab".into()),
            artifact_size: Some(1),
            image: None,
            image_pin: None,
            quorum: 0,
        }
    }

    #[test]
    fn remembers_live_functions_forgets_on_request_and_never_keeps_paused_ones() {
        let snapshots = FunctionSnapshots::default();
        let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
        snapshots.remember(&[row(1, false), row(2, true)]);
        let (found, missing) = snapshots.lookup(&[one, two]);
        assert!(found.contains_key(&one));
        assert_eq!(missing, vec![two]);
        snapshots.forget(&[one]);
        assert_eq!(snapshots.lookup(&[one]).1, vec![one]);
    }
}
