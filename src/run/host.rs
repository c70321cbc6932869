//! One host's run. The looks of all tasks go to the host in one script (see `looks`). After a
//! task changes something, the looks of the tasks after it are stale and are taken again, in a
//! window that starts at one task and doubles while nothing changes: a warm run costs one round
//! trip for all its looks, and a cold run does not re-look every remaining task after each change.

use super::looks::{LookBatch, LookRequest, wrap};
use super::progress::{HostProgress, Progress};
use super::report::{HostReport, Status, TaskResult};
use super::{HostPlan, RunOptions};
use crate::ssh::{Connection, SshError};
use crate::tasks::PreparedTask;
use crate::tasks::module::{Change, Observed, Plan};
use crate::tasks::remote::quote;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

enum Outcome {
    Done(TaskResult),
    /// The connection broke: the host is unreachable from here on.
    Lost(SshError),
}

struct HostRun<'a> {
    conn: &'a Connection,
    options: &'a RunOptions,
    progress: &'a Progress,
    host: String,
    batch: LookBatch,
}

impl HostRun<'_> {
    /// Takes the looks of the first `limit` tasks (of those that have one) in one round trip.
    async fn take_looks(
        &self,
        tasks: &[PreparedTask],
        limit: usize,
    ) -> Result<HashMap<usize, Observed>, SshError> {
        let requests: Vec<LookRequest> = tasks
            .iter()
            .filter(|t| t.skip.is_none())
            .filter_map(|t| {
                t.module.look().map(|look| LookRequest {
                    index: t.index,
                    look,
                    become_user: t.become_user.clone(),
                })
            })
            .take(limit)
            .collect();
        if requests.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self.conn.exec(&self.batch.script(&requests), None).await?;
        Ok(self.batch.parse(&requests, &out))
    }

    fn result(
        &self,
        task: &PreparedTask,
        status: Status,
        message: String,
        started: Instant,
    ) -> TaskResult {
        TaskResult {
            name: task.name.clone(),
            module: task.module.kind().to_string(),
            status,
            message,
            diff: None,
            handler: false,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// Decides and, unless in check mode, acts. `observed` is the task's look, if it has one.
    async fn run_task(&self, task: &PreparedTask, observed: Option<&Observed>) -> Outcome {
        let started = Instant::now();
        if let Some(reason) = &task.skip {
            return Outcome::Done(self.result(task, Status::Skipped, reason.clone(), started));
        }
        if let Some(o) = observed
            && o.status != 0
        {
            let mut message = format!(
                "looking at the host failed (exit {}): {}",
                o.status,
                tail(&o.output, 5)
            );
            if o.output.contains("sudo:") {
                message.push_str(&format!(
                    " (become needs passwordless sudo for {} on this host)",
                    task.become_user.as_deref().unwrap_or("root")
                ));
            }
            return Outcome::Done(self.result(task, Status::Failed, message, started));
        }
        let plan = match task.module.decide(observed) {
            Ok(p) => p,
            Err(e) => return Outcome::Done(self.result(task, Status::Failed, e.0, started)),
        };
        match plan {
            Plan::Ok { reason } => Outcome::Done(self.result(task, Status::Ok, reason, started)),
            Plan::Skip { reason } => {
                Outcome::Done(self.result(task, Status::Skipped, reason, started))
            }
            Plan::Change(change) => self.change(task, change, started).await,
        }
    }

    async fn change(&self, task: &PreparedTask, change: Change, started: Instant) -> Outcome {
        let become_user = task.become_user.as_deref();
        let mut diff = None;
        if self.options.diff
            && let Some(file) = &change.file
        {
            let old = if file.exists {
                match self
                    .conn
                    .exec(
                        &wrap(&format!("cat -- {}", quote(&file.path)), become_user),
                        None,
                    )
                    .await
                {
                    Ok(o) => o.stdout,
                    Err(e) => return Outcome::Lost(e),
                }
            } else {
                Vec::new()
            };
            diff = Some(unified_diff(&file.path, &old, &file.new_content));
        }
        if self.options.check {
            let (status, message) = if change.runs_user_command {
                (
                    Status::Skipped,
                    format!("check mode: would run `{}`", task.module.target()),
                )
            } else {
                (Status::Changed, format!("would change: {}", change.summary))
            };
            let mut r = self.result(task, status, message, started);
            r.diff = diff;
            return Outcome::Done(r);
        }
        for step in &change.steps {
            let out = match self
                .conn
                .exec(&wrap(&step.script, become_user), step.stdin.as_deref())
                .await
            {
                Ok(o) => o,
                Err(e) => return Outcome::Lost(e),
            };
            if out.status != 0 {
                let what = if change.runs_user_command {
                    format!("command `{}`", task.module.target())
                } else {
                    format!(
                        "{} {} ({})",
                        task.module.kind(),
                        task.module.target(),
                        change.summary
                    )
                };
                let stderr = out.stderr_text();
                let detail = if stderr.trim().is_empty() {
                    out.stdout_text()
                } else {
                    stderr
                };
                let mut message = format!(
                    "{what} failed with exit status {}: {}",
                    out.status,
                    tail(&detail, 10)
                );
                if detail.contains("sudo: a password is required")
                    || detail.contains("sudo: a terminal is required")
                {
                    message.push_str(&format!(
                        "\nhint: become needs passwordless sudo for {} on this host",
                        become_user.unwrap_or("root")
                    ));
                }
                return Outcome::Done(self.result(task, Status::Failed, message, started));
            }
        }
        let status = if change.observes_only || task.changed_when == Some(false) {
            Status::Ok
        } else {
            Status::Changed
        };
        let mut r = self.result(task, status, change.summary, started);
        r.diff = diff;
        Outcome::Done(r)
    }

    fn announce(&self, r: &TaskResult) {
        let label = match r.status {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipping",
            Status::Failed => "failed",
        };
        let line = format!("{label}: [{}] {}: {}", self.host, r.name, r.message);
        match r.status {
            Status::Changed | Status::Failed | Status::Skipped => self.progress.event(&line),
            Status::Ok => self.progress.verbose(&line),
        }
        if let Some(d) = &r.diff {
            self.progress.event(d.trim_end());
        }
    }
}

pub fn unified_diff(path: &str, old: &[u8], new: &[u8]) -> String {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(o), Ok(n)) => similar::TextDiff::from_lines(o, n)
            .unified_diff()
            .header(&format!("{path} (before)"), &format!("{path} (after)"))
            .to_string(),
        _ => format!("binary file {path} differs\n"),
    }
}

pub(super) async fn run_host(
    plan: HostPlan,
    options: &RunOptions,
    progress: &Progress,
) -> HostReport {
    let started = Instant::now();
    let target = &plan.target;
    let mut report = HostReport::new(&target.name, &target.address);
    let bar: HostProgress = progress.host(&target.name, plan.tasks.len());
    let conn = match Connection::open(target, &options.connect).await {
        Ok(c) => c,
        Err(e) => {
            progress.event(&format!("unreachable: [{}] {e}", target.name));
            report.set_unreachable(e.to_string());
            report.set_duration(started.elapsed());
            bar.finish();
            return report;
        }
    };
    report.host_key_recorded = conn.learned_host_key;
    if conn.learned_host_key {
        progress.verbose(&format!(
            "note: [{}] host key recorded in {} (first connection)",
            target.name,
            options.connect.known_hosts.path().display()
        ));
    }
    let run = HostRun {
        conn: &conn,
        options,
        progress,
        host: target.name.clone(),
        batch: LookBatch::new(),
    };
    let mut notified: HashSet<String> = HashSet::new();
    // Observations still valid: nothing ran on the host since they were taken.
    let mut looks: HashMap<usize, Observed> = HashMap::new();
    let mut window = usize::MAX;
    let mut failed = false;
    for (position, task) in plan.tasks.iter().enumerate() {
        bar.task(position, &task.name);
        let needs_look = task.skip.is_none() && task.module.look().is_some();
        if needs_look && !looks.contains_key(&task.index) {
            match run.take_looks(&plan.tasks[position..], window).await {
                Ok(l) => {
                    looks = l;
                    window = window.saturating_mul(2);
                }
                Err(e) => {
                    lost(&mut report, progress, &target.name, e);
                    break;
                }
            }
        }
        let observed = if needs_look {
            match looks.get(&task.index) {
                Some(o) => Some(o),
                None => {
                    lost(
                        &mut report,
                        progress,
                        &target.name,
                        protocol_gap(&target.name),
                    );
                    break;
                }
            }
        } else {
            None
        };
        match run.run_task(task, observed).await {
            Outcome::Lost(e) => {
                lost(&mut report, progress, &target.name, e);
                break;
            }
            Outcome::Done(r) => {
                run.announce(&r);
                if r.status == Status::Changed {
                    notified.extend(task.notify.iter().cloned());
                }
                // Something ran on the host (a change, or a command whose effect is unknown even
                // when it reports ok): later observations may be stale.
                let acted = r.status == Status::Changed
                    || (r.status == Status::Ok && task.changed_when == Some(false));
                if acted && !options.check {
                    looks.clear();
                    window = 1;
                }
                failed = r.status == Status::Failed;
                report.push(r);
                if failed {
                    break;
                }
            }
        }
    }
    if !failed && report.unreachable.is_none() {
        for handler in &plan.handlers {
            if !notified.contains(&handler.name) {
                continue;
            }
            bar.task(plan.tasks.len(), &handler.name);
            let observed = match run.take_looks(std::slice::from_ref(handler), 1).await {
                Ok(mut l) => l.remove(&handler.index),
                Err(e) => {
                    lost(&mut report, progress, &target.name, e);
                    break;
                }
            };
            match run.run_task(handler, observed.as_ref()).await {
                Outcome::Lost(e) => {
                    lost(&mut report, progress, &target.name, e);
                    break;
                }
                Outcome::Done(mut r) => {
                    r.handler = true;
                    run.announce(&r);
                    if r.status == Status::Changed {
                        notified.extend(handler.notify.iter().cloned());
                    }
                    let stop = r.status == Status::Failed;
                    report.push(r);
                    if stop {
                        break;
                    }
                }
            }
        }
    }
    conn.close().await;
    report.set_duration(started.elapsed());
    bar.finish();
    report
}

fn protocol_gap(host: &str) -> SshError {
    SshError::Protocol {
        target: host.to_string(),
        reason: "the host's answer to the batched looks was cut short".to_string(),
    }
}

fn lost(report: &mut HostReport, progress: &Progress, host: &str, e: SshError) {
    progress.event(&format!("unreachable: [{host}] {e}"));
    report.set_unreachable(e.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_lines() {
        let d = unified_diff("/etc/x", b"a\nb\n", b"a\nc\n");
        assert!(d.contains("-b\n") && d.contains("+c\n"), "{d}");
    }
}
