//! Results of a run: per task, per host, the recap and the exit status.

use super::interrupt::Signal;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub name: String,
    pub module: String,
    pub status: Status,
    /// Why it is ok, what changed, or why it failed.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub handler: bool,
    /// Failed under `ignore_errors: true`: the host went on (counted as ok and ignored).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignored: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub unreachable: usize,
    /// Failures under `ignore_errors` (also counted in `ok`, as Ansible's recap does).
    pub ignored: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    pub tasks: Vec<TaskResult>,
    pub stats: Stats,
    pub duration_ms: u64,
    /// The host's key was not in known_hosts and has been recorded.
    pub host_key_recorded: bool,
    /// The run was interrupted before this host finished its tasks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Commands run on the host, each one round trip: the batched looks, the steps, facts.
    pub round_trips: usize,
}

impl HostReport {
    pub fn new(host: &str, address: &str) -> HostReport {
        HostReport {
            host: host.to_string(),
            address: address.to_string(),
            unreachable: None,
            tasks: Vec::new(),
            stats: Stats::default(),
            duration_ms: 0,
            host_key_recorded: false,
            interrupted: false,
            round_trips: 0,
        }
    }

    /// A host the run was interrupted before it started.
    pub fn not_started(host: &str, address: &str) -> HostReport {
        HostReport {
            interrupted: true,
            ..HostReport::new(host, address)
        }
    }

    pub fn push(&mut self, result: TaskResult) {
        match result.status {
            Status::Ok => self.stats.ok += 1,
            Status::Changed => self.stats.changed += 1,
            Status::Skipped => self.stats.skipped += 1,
            Status::Failed if result.ignored => {
                self.stats.ok += 1;
                self.stats.ignored += 1;
            }
            Status::Failed => self.stats.failed += 1,
        }
        self.tasks.push(result);
    }

    /// Takes in the same host's report of a later play.
    pub fn absorb(&mut self, later: HostReport) {
        self.tasks.extend(later.tasks);
        let (s, l) = (&mut self.stats, &later.stats);
        s.ok += l.ok;
        s.changed += l.changed;
        s.failed += l.failed;
        s.skipped += l.skipped;
        s.unreachable = s.unreachable.max(l.unreachable);
        s.ignored += l.ignored;
        if self.unreachable.is_none() {
            self.unreachable = later.unreachable;
        }
        self.duration_ms += later.duration_ms;
        self.host_key_recorded |= later.host_key_recorded;
        self.interrupted |= later.interrupted;
        self.round_trips += later.round_trips;
    }

    pub fn set_unreachable(&mut self, reason: String) {
        self.unreachable = Some(reason);
        self.stats.unreachable = 1;
    }

    pub fn set_duration(&mut self, d: Duration) {
        self.duration_ms = d.as_millis() as u64;
    }
}

/// Exit statuses, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const TASK_FAILED: i32 = 2;
    pub const INVALID_INPUT: i32 = 3;
    pub const UNREACHABLE: i32 = 4;
    pub const NOT_CONFIRMED: i32 = 5;
    pub const USAGE: i32 = 64;
}

pub fn exit_status(reports: &[HostReport], interrupted: Option<Signal>) -> i32 {
    if let Some(signal) = interrupted {
        signal.exit_status()
    } else if reports.iter().any(|r| r.stats.failed > 0) {
        exit::TASK_FAILED
    } else if reports.iter().any(|r| r.unreachable.is_some()) {
        exit::UNREACHABLE
    } else {
        exit::OK
    }
}

/// One line per host, as Ansible users read it at a glance.
pub fn recap(reports: &[HostReport], interrupted: Option<Signal>) -> String {
    let width = reports.iter().map(|r| r.host.len()).max().unwrap_or(0);
    let mut out = match interrupted {
        Some(signal) => format!(
            "RECAP (interrupted by {}: no task was started after it)\n",
            signal.name()
        ),
        None => String::from("RECAP\n"),
    };
    for r in reports {
        let s = &r.stats;
        out.push_str(&format!(
            "{:width$} : ok={} changed={} failed={} unreachable={} skipped={}{}  ({:.2}s){}\n",
            r.host,
            s.ok,
            s.changed,
            s.failed,
            s.unreachable,
            s.skipped,
            if s.ignored > 0 {
                format!(" ignored={}", s.ignored)
            } else {
                String::new()
            },
            r.duration_ms as f64 / 1000.0,
            if r.interrupted { "  interrupted" } else { "" },
        ));
    }
    out
}

#[derive(Serialize)]
struct JsonRun<'a> {
    role: &'a str,
    check: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<&'static str>,
    hosts: &'a [HostReport],
    totals: Stats,
    exit_status: i32,
}

pub fn to_json(
    role: &str,
    check: bool,
    reports: &[HostReport],
    interrupted: Option<Signal>,
) -> String {
    let mut totals = Stats::default();
    for r in reports {
        totals.ok += r.stats.ok;
        totals.changed += r.stats.changed;
        totals.failed += r.stats.failed;
        totals.skipped += r.stats.skipped;
        totals.ignored += r.stats.ignored;
        totals.unreachable += r.stats.unreachable;
    }
    serde_json::to_string_pretty(&JsonRun {
        role,
        check,
        interrupted: interrupted.map(Signal::name),
        hosts: reports,
        totals,
        exit_status: exit_status(reports, interrupted),
    })
    .expect("reports serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status) -> TaskResult {
        TaskResult {
            name: "t".into(),
            module: "file".into(),
            status,
            message: String::new(),
            diff: None,
            handler: false,
            ignored: false,
            duration_ms: 1,
        }
    }

    #[test]
    fn recap_and_exit_status() {
        let mut a = HostReport::new("h01", "10.0.0.1");
        a.push(result(Status::Ok));
        a.push(result(Status::Changed));
        a.set_duration(Duration::from_millis(1500));
        let mut b = HostReport::new("h2", "10.0.0.2");
        b.set_unreachable("refused".into());
        assert_eq!(
            recap(&[a.clone(), b.clone()], None),
            "RECAP\nh01 : ok=1 changed=1 failed=0 unreachable=0 skipped=0  (1.50s)\n\
             h2  : ok=0 changed=0 failed=0 unreachable=1 skipped=0  (0.00s)\n"
        );
        assert_eq!(exit_status(&[a.clone()], None), exit::OK);
        assert_eq!(
            exit_status(&[a.clone(), b.clone()], None),
            exit::UNREACHABLE
        );
        let c = HostReport::not_started("h3", "10.0.0.3");
        assert_eq!(
            recap(std::slice::from_ref(&c), Some(Signal::Int)),
            "RECAP (interrupted by SIGINT: no task was started after it)\n\
             h3 : ok=0 changed=0 failed=0 unreachable=0 skipped=0  (0.00s)  interrupted\n"
        );
        assert_eq!(exit_status(&[a.clone(), c], Some(Signal::Term)), 143);
        a.push(result(Status::Failed));
        assert_eq!(exit_status(&[a, b], None), exit::TASK_FAILED);
    }
}
