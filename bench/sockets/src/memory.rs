//! Memory and open-file limits of a process, read from `/proc/<pid>/status` and `/proc/<pid>/limits`.

use std::fmt;

/// Why a process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot read /proc/{process}/{file}: {source}")]
    Read {
        process: String,
        file: &'static str,
        source: std::io::Error,
    },
    #[error("/proc/{process}/{file} has no {field:?} line")]
    Missing {
        process: String,
        file: &'static str,
        field: &'static str,
    },
}

/// Which process: a pid or this one.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    Pid(u32),
    Current,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Pid(pid) => write!(f, "{pid}"),
            Process::Current => f.write_str("self"),
        }
    }
}

/// A process's memory at one moment, KiB (threads as a count).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Resident set size (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`).
    pub hwm_kib: u64,
    /// Resident anonymous memory (`RssAnon`): the heap and stacks.
    pub anon_kib: u64,
    pub threads: u64,
}

impl Sample {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

fn read(process: Process, file: &'static str) -> Result<String, ProcError> {
    std::fs::read_to_string(format!("/proc/{process}/{file}")).map_err(|source| ProcError::Read {
        process: process.to_string(),
        file,
        source,
    })
}

/// The first number after `field` on its line of `text`.
fn field(
    text: &str,
    process: Process,
    file: &'static str,
    field: &'static str,
) -> Result<u64, ProcError> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .ok_or_else(|| ProcError::Missing {
            process: process.to_string(),
            file,
            field,
        })
}

/// Reads `VmRSS`, `VmHWM`, `RssAnon` and `Threads`.
pub fn sample(process: Process) -> Result<Sample, ProcError> {
    let status = read(process, "status")?;
    Ok(Sample {
        rss_kib: field(&status, process, "status", "VmRSS:")?,
        hwm_kib: field(&status, process, "status", "VmHWM:")?,
        anon_kib: field(&status, process, "status", "RssAnon:")?,
        threads: field(&status, process, "status", "Threads:")?,
    })
}

/// The soft limit on open files (`ulimit -n`) of a process.
pub fn open_files_limit(process: Process) -> Result<u64, ProcError> {
    let limits = read(process, "limits")?;
    field(&limits, process, "limits", "Max open files")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set_and_a_file_limit() {
        let now = sample(Process::Current).expect("readable");
        assert!(now.rss_kib > 0 && now.hwm_kib >= now.rss_kib && now.threads >= 1);
        assert!(open_files_limit(Process::Current).expect("readable") > 0);
    }

    #[test]
    fn fields_are_read_after_their_name() {
        let text = "Name:\tx\nVmRSS:\t  1234 kB\nThreads:\t3\n";
        assert_eq!(
            field(text, Process::Current, "status", "VmRSS:").ok(),
            Some(1234)
        );
        assert!(field(text, Process::Current, "status", "VmHWM:").is_err());
    }
}
