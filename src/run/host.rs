//! One host's run. The looks of all tasks go to the host in one script (see `looks`). After a
//! task changes something, the looks of the tasks after it are stale and are taken again, in a
//! window that starts at one task and doubles while nothing changes: a warm run costs one round
//! trip for all its looks, and a cold run does not re-look every remaining task after each change.

use super::lockstep::Seat;
use super::looks::{LookBatch, LookRequest, wrap};
use super::play::{Play, RunOnceOutcome};
use super::progress::{HostProgress, Progress};
use super::report::{HostReport, Status, TaskResult};
use super::{HostPlan, RunOptions, RunShared, Slot, facts};
use crate::ssh::{Connection, ExecOutput, SshError};
use crate::tasks::module::{Change, Observed, Plan};
use crate::tasks::remote::quote;
use crate::tasks::{Condition, PrepareCtx, PreparedTask, TaskDef, first_false};
use minijinja::Value;
use serde_json::{Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

enum Outcome {
    Done(Ran),
    /// The connection broke: the host is unreachable from here on.
    Lost(SshError),
}

/// A task's result, what it records for `register:`, and whether it acted on the host.
/// The most shell text one batch of looks may take (one exec argument may hold 128 KiB).
const MAX_LOOK_BATCH_BYTES: usize = 64 * 1024;

struct Ran {
    result: TaskResult,
    fields: Map<String, Json>,
    /// Something ran that may have changed the host: later looks are stale.
    acted: bool,
}

impl Ran {
    fn only(result: TaskResult) -> Outcome {
        Outcome::Done(Ran {
            result,
            fields: Map::new(),
            acted: false,
        })
    }
}

/// Why a task rendered during the run could not be.
enum Deferral {
    Lost(SshError),
    Invalid(String),
}

struct HostRun<'a> {
    conn: &'a Connection,
    play: &'a Play,
    options: &'a RunOptions,
    progress: &'a Progress,
    host: String,
    batch: LookBatch,
    shared: &'a RunShared,
    vars: &'a Map<String, Json>,
    registered: Map<String, Json>,
    facts: Option<Map<String, Json>>,
    /// In check mode: an earlier task would have changed the host, so a later task's look may
    /// describe a host that the real run would not see (a unit its package would install).
    would_have_changed: bool,
}

impl HostRun<'_> {
    /// Takes the looks of the first `limit` tasks (of those that have one) in one round trip,
    /// stopping at the first task not rendered yet.
    async fn take_looks(
        &self,
        tasks: &[Slot],
        limit: usize,
    ) -> Result<HashMap<usize, Observed>, SshError> {
        // One command line may hold 128 KiB: a batch stays well below, whatever its count.
        let mut size = 0;
        let requests: Vec<LookRequest> = tasks
            .iter()
            .map_while(Slot::ready)
            .filter(|t| t.skip.is_none())
            .filter_map(|t| {
                t.module.look().map(|look| LookRequest {
                    index: t.look_key,
                    look,
                    become_user: t.become_user.clone(),
                })
            })
            .take(limit)
            .take_while(|r| {
                let first = size == 0;
                size += r.look.as_shell().len() + 64;
                first || size <= MAX_LOOK_BATCH_BYTES
            })
            .collect();
        if requests.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self.conn.exec(&self.batch.script(&requests), None).await?;
        Ok(self.batch.parse(&requests, &out))
    }

    /// The variables as they stand now: the host's, facts once gathered, registered results, and
    /// optionally one more (a task's own result, for `changed_when`).
    fn context(&self, own: Option<(&str, Json)>) -> Value {
        let mut vars = self.vars.clone();
        self.play.overlay_hostvars(&mut vars);
        if let Some(facts) = &self.facts {
            vars.extend(facts.clone());
        }
        vars.extend(self.registered.clone());
        if let Some((name, value)) = own {
            vars.insert(name.to_string(), value);
        }
        Value::from(minijinja::value::Serde(Json::Object(vars)))
    }

    /// Makes a registered value visible to the other hosts, as `hostvars[this host][name]`, whole
    /// (after the last item of a loop).
    fn publish(&self, name: &str) {
        if let Some(value) = self.registered.get(name) {
            self.play.publish(&self.host, name, value.clone());
        }
    }

    /// Takes the variables a task set (`set_fact`) for the tasks after it, and shows them to
    /// the other hosts.
    fn set_facts(&mut self, task: &PreparedTask) {
        if let Some(facts) = task.module.sets_facts() {
            for (name, value) in facts {
                self.registered.insert(name.clone(), value.clone());
                self.publish(name);
            }
        }
    }

    /// Records a task's result under its `register` name; the items of a loop go into
    /// `results`, as in Ansible, with `changed`/`failed` true when any item's is.
    /// Other hosts see it (`hostvars`) once this host has finished the task: see `publish`.
    fn register(&mut self, name: &str, task: &PreparedTask, mut value: Json) {
        let Some((position, item)) = &task.loop_item else {
            self.registered.insert(name.to_string(), value);
            return;
        };
        value["item"] = item.clone();
        if task.loop_var != "item" {
            value[task.loop_var.as_str()] = item.clone();
            value["ansible_loop_var"] = task.loop_var.clone().into();
        }
        if *position == 0 || !self.registered.contains_key(name) {
            self.registered.insert(
                name.to_string(),
                serde_json::json!({"results": [], "changed": false, "failed": false, "skipped": false, "msg": "all items done"}),
            );
        }
        let entry = self.registered.get_mut(name).expect("inserted above");
        for flag in ["changed", "failed"] {
            if value[flag] == true {
                entry[flag] = true.into();
            }
        }
        if let Some(results) = entry["results"].as_array_mut() {
            results.push(value);
        }
    }

    async fn gather_facts(&mut self) -> Result<(), SshError> {
        let out = self.conn.exec(&wrap(facts::SCRIPT, None), None).await?;
        self.facts = Some(facts::parse(&out.stdout_text()));
        self.progress
            .verbose(&format!("facts: [{}] gathered", self.host));
        Ok(())
    }

    /// Renders a task that waited for run-time values; facts are gathered the first time a task
    /// needs a value nothing else defines.
    async fn prepare_deferred(
        &mut self,
        index: usize,
        handler: bool,
    ) -> Result<Vec<PreparedTask>, Deferral> {
        let shared = self.shared;
        let file = &shared.task_file;
        let def = if handler {
            &file.handlers[index]
        } else {
            &file.tasks[index]
        };
        loop {
            let vars = self.context(None);
            let ctx = PrepareCtx {
                env: &shared.env,
                vars: &vars,
                roles: &shared.roles,
            };
            match def.prepare_all(index, &ctx, shared.default_become) {
                Ok(tasks) => return Ok(tasks),
                Err(e) if e.is_undefined() && self.facts.is_none() => {
                    self.gather_facts().await.map_err(Deferral::Lost)?;
                }
                Err(e) => return Err(Deferral::Invalid(e.to_string())),
            }
        }
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
            ignored: false,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// A task whose look or decision failed. In check mode after a change check mode did not
    /// make, the failure may be that change's absence (the service of a package not installed
    /// yet): what the real run would do cannot be known, so it is skipped with that said.
    fn undecidable(&self, task: &PreparedTask, reason: String, started: Instant) -> TaskResult {
        if self.options.check && self.would_have_changed {
            return self.result(
                task,
                Status::Skipped,
                format!(
                    "check mode: depends on changes of earlier tasks that check mode did not make ({reason})"
                ),
                started,
            );
        }
        self.result(task, Status::Failed, reason, started)
    }

    /// Decides and, unless in check mode, acts. `observed` is the task's look, if it has one.
    async fn run_task(&self, task: &PreparedTask, observed: Option<&Observed>) -> Outcome {
        let started = Instant::now();
        if let Some(reason) = &task.skip {
            return Ran::only(self.result(task, Status::Skipped, reason.clone(), started));
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
            return Ran::only(self.undecidable(task, message, started));
        }
        let plan = match task.module.decide(observed) {
            Ok(p) => p,
            Err(e) => return Ran::only(self.undecidable(task, e.0, started)),
        };
        match plan {
            Plan::Ok { reason } => {
                // `changed_when`/`failed_when` hold for a task that had nothing to do too.
                let fields = task.module.found(observed);
                let (status, message) = self.verdict(task, Status::Ok, None, &fields, reason);
                Outcome::Done(Ran {
                    result: self.result(task, status, message, started),
                    fields,
                    acted: false,
                })
            }
            Plan::Skip { reason } => Ran::only(self.result(task, Status::Skipped, reason, started)),
            Plan::Change(change) => self.change(task, change, started).await,
        }
    }

    /// Applies `failed_when` and `changed_when` to what the steps did. The task's own result is
    /// visible to them under its `register` name, as in Ansible.
    fn verdict(
        &self,
        task: &PreparedTask,
        usual: Status,
        failure: Option<String>,
        fields: &Map<String, Json>,
        summary: String,
    ) -> (Status, String) {
        if task.failed_when.is_none() && task.changed_when.is_none() {
            return match failure {
                Some(f) => (Status::Failed, f),
                None => (usual, summary),
            };
        }
        let mut own = fields.clone();
        own.insert("failed".into(), failure.is_some().into());
        own.insert("changed".into(), (usual == Status::Changed).into());
        own.insert("skipped".into(), false.into());
        let mut vars = self.context(task.register.as_deref().map(|r| (r, Json::Object(own))));
        if let Some((_, item)) = &task.loop_item {
            // The loop's item is there too (`changed_when: item.x in result.stdout`).
            vars = minijinja::value::merge_maps([
                vars,
                minijinja::Value::from(std::collections::BTreeMap::from([(
                    task.loop_var.clone(),
                    minijinja::Value::from(minijinja::value::Serde(item)),
                )])),
            ]);
        }
        let (env, source) = (&self.shared.env, &task.source);
        let failure = match &task.failed_when {
            None => failure,
            Some(conditions) => match first_false(env, conditions, &vars, source, "failed_when") {
                Ok(None) => Some(
                    failure
                        .unwrap_or_else(|| format!("failed_when holds: {}", describe(conditions))),
                ),
                Ok(Some(_)) => None,
                Err(e) => Some(e.to_string()),
            },
        };
        if let Some(f) = failure {
            return (Status::Failed, f);
        }
        match &task.changed_when {
            None => (usual, summary),
            Some(conditions) => match first_false(env, conditions, &vars, source, "changed_when") {
                Ok(None) => (Status::Changed, summary),
                Ok(Some(_)) => (Status::Ok, summary),
                Err(e) => (Status::Failed, e.to_string()),
            },
        }
    }

    fn announce(&self, r: &TaskResult) {
        let label = match r.status {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipping",
            Status::Failed => "failed",
        };
        let ignoring = if r.ignored { " ...ignoring" } else { "" };
        let line = format!(
            "{label}: [{}] {}: {}{ignoring}",
            self.host, r.name, r.message
        );
        // A task skipped by its `when` is routine and shows with -v only; one that check mode
        // skipped is news.
        match r.status {
            Status::Changed | Status::Failed => self.progress.event(&line),
            Status::Skipped if self.options.check => self.progress.event(&line),
            Status::Skipped | Status::Ok => self.progress.verbose(&line),
        }
        if let Some(d) = &r.diff {
            self.progress.event(d.trim_end());
        }
    }

    /// Why a step failed. Of a change of several steps, says which one failed: the summary of
    /// the whole change would claim steps that never ran.
    fn step_failure(
        &self,
        task: &PreparedTask,
        change: &Change,
        step: usize,
        out: &ExecOutput,
    ) -> String {
        let become_user = task.become_user.as_deref();
        let what = if change.runs_user_command {
            format!("command `{}`", task.module.target())
        } else if change.steps.len() > 1 {
            format!(
                "{} {}: step {} of {}",
                task.module.kind(),
                task.module.target(),
                step + 1,
                change.steps.len()
            )
        } else {
            format!("{} {}", task.module.kind(), task.module.target())
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
        } else if let Some(hint) = fetch_failure_hint(&detail) {
            message.push_str(&format!("\nhint: {hint}"));
        }
        message
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
        if self.options.check && !change.runs_in_check {
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
            return Ran::only(r);
        }
        if let Some(notice) = &change.notice {
            self.progress
                .event(&format!("note: [{}] {notice}", self.host));
        }
        let mut last = None;
        let mut failure = None;
        for (number, step) in change.steps.iter().enumerate() {
            let out = match self
                .conn
                .exec(&wrap(&step.script, become_user), step.stdin.as_deref())
                .await
            {
                Ok(o) => o,
                Err(e) => return Outcome::Lost(e),
            };
            failure = if out.status != 0 {
                Some(self.step_failure(task, &change, number, &out))
            } else {
                task.module.output_failure(&out)
            };
            last = Some(out);
            if failure.is_some() {
                break;
            }
        }
        let fields = last
            .as_ref()
            .map(|o| task.module.registered(o))
            .unwrap_or_default();
        let changed_by_output = last.as_ref().and_then(|o| task.module.changed_by(o));
        let usual = if change.observes_only || changed_by_output == Some(false) {
            Status::Ok
        } else {
            Status::Changed
        };
        let (status, message) = self.verdict(task, usual, failure, &fields, change.summary);
        let mut result = self.result(task, status, message, started);
        result.diff = diff;
        Outcome::Done(Ran {
            result,
            fields,
            acted: !change.observes_only && !change.runs_in_check,
        })
    }
}
/// What to check when a step failed to download something (a package repository, its key, a
/// URL): the host's own network, not provision, is what failed.
fn fetch_failure_hint(output: &str) -> Option<&'static str> {
    const SIGNS: &[&str] = &[
        "Could not resolve",
        "Failed to fetch",
        "Could not connect",
        "Connection timed out",
        "Temporary failure resolving",
        "404  Not Found",
        "Failed to connect",
        "curl: (6)",
        "curl: (7)",
        "curl: (22)",
        "curl: (28)",
    ];
    SIGNS.iter().any(|s| output.contains(s)).then_some(
        "the host could not download from the URL above: check the task's URLs (a repository, \
         `key_url`; in a role they are often variables, e.g. `couchdb_repo_url`, set in \
         configure.json's `vars` or with -e) and that the host can reach them",
    )
}

fn describe(conditions: &[Condition]) -> String {
    conditions
        .iter()
        .map(|c| match c {
            Condition::Literal(b) => b.to_string(),
            Condition::Expr { text, .. } => format!("`{text}`"),
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What `register:` stores: the outcome, and what the module recorded of its last step.
fn registered_value(r: &TaskResult, fields: Map<String, Json>) -> Json {
    let mut value = fields;
    value.insert("changed".into(), (r.status == Status::Changed).into());
    value.insert("failed".into(), (r.status == Status::Failed).into());
    value.insert("skipped".into(), (r.status == Status::Skipped).into());
    value.insert("msg".into(), r.message.clone().into());
    Json::Object(value)
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

/// How a host goes on after leaving a task.
enum AfterTask {
    /// `stale_looks`: a task that reaches beyond its host acted on some host, so what this host
    /// saw of itself before may have changed.
    GoOn {
        stale_looks: bool,
    },
    Interrupted,
    /// The `run_once` task failed on the host that ran it, or that host left the play before
    /// finishing it: as in Ansible, that fails every host.
    Failed,
}

/// Leaves task `index`: its registered result becomes visible to the other hosts; where the
/// hosts meet after it, waits for all, and a host that did not run a `run_once` task takes its
/// result.
async fn leave_task(
    run: &mut HostRun<'_>,
    seat: &mut Seat<'_>,
    index: usize,
    report: &mut HostReport,
) -> AfterTask {
    let play = run.play;
    let def = &run.shared.task_file.tasks[index];
    if let Some(name) = &def.register {
        run.publish(name);
    }
    if !play.task_syncs(index) {
        return AfterTask::GoOn { stale_looks: false };
    }
    if !seat.arrive(play.points.after_task(index)).await {
        report.interrupted = true;
        return AfterTask::Interrupted;
    }
    let go_on = AfterTask::GoOn {
        stale_looks: play.acted_beyond(index),
    };
    let runner = match play.run_once_seat(index) {
        Some(runner) if def.run_once && runner != seat.number => runner,
        _ => return go_on,
    };
    let runner_name = play.name(runner);
    let failure = match play.run_once_outcome(index) {
        Some(outcome) => {
            if let Some((name, value)) = outcome.registered {
                run.registered.insert(name.clone(), value);
                run.publish(&name);
            }
            match outcome.failure {
                None => return go_on,
                Some(f) => format!("run_once: failed on {runner_name}: {f}"),
            }
        }
        None if run.options.interrupt.signal().is_some() => {
            report.interrupted = true;
            return AfterTask::Interrupted;
        }
        None => format!("run_once: {runner_name} left the play before finishing this task"),
    };
    let r = not_run(def, Status::Failed, failure);
    run.announce(&r);
    report.push(r);
    AfterTask::Failed
}

pub(super) async fn run_host(
    mut plan: HostPlan,
    options: &RunOptions,
    progress: &Progress,
    play: &Play,
    mut seat: Seat<'_>,
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
    let mut run = HostRun {
        conn: &conn,
        play,
        options,
        progress,
        host: target.name.clone(),
        batch: LookBatch::new(),
        shared: &plan.shared,
        vars: &plan.vars,
        registered: Map::new(),
        facts: None,
        would_have_changed: false,
    };
    let mut notified: HashSet<String> = HashSet::new();
    // Observations still valid: nothing ran on the host since they were taken.
    let mut looks: HashMap<usize, Observed> = HashMap::new();
    let mut window = usize::MAX;
    let mut failed = false;
    // An item of the current task's loop failed.
    let mut loop_failed = false;
    let mut position = 0;
    // The task (index in the task file) whose slots the host is in.
    let mut current: Option<usize> = None;
    while position < plan.tasks.len() {
        if options.interrupt.signal().is_some() {
            report.interrupted = true;
            break;
        }
        let index = plan.tasks[position].index();
        if current != Some(index) {
            if let Some(previous) = current {
                match leave_task(&mut run, &mut seat, previous, &mut report).await {
                    AfterTask::GoOn { stale_looks } => {
                        if stale_looks {
                            looks.clear();
                            window = 1;
                        }
                    }
                    AfterTask::Interrupted => break,
                    AfterTask::Failed => {
                        failed = true;
                        break;
                    }
                }
            }
            current = Some(index);
            if play.task_syncs(index) && !seat.arrive(play.points.before_task(index)).await {
                report.interrupted = true;
                break;
            }
            if plan.shared.task_file.tasks[index].run_once
                && play.run_once_seat(index) != Some(seat.number)
            {
                // Another host runs it; its result is taken when the hosts meet after it.
                while position < plan.tasks.len() && plan.tasks[position].index() == index {
                    position += 1;
                }
                continue;
            }
        }
        if let Slot::Deferred(index) = plan.tasks[position] {
            match run.prepare_deferred(index, false).await {
                Ok(tasks) => {
                    plan.tasks.splice(
                        position..=position,
                        tasks.into_iter().map(|t| Slot::Ready(Box::new(t))),
                    );
                }
                Err(Deferral::Lost(e)) => {
                    lost(&mut report, progress, &target.name, e);
                    break;
                }
                Err(Deferral::Invalid(message)) => {
                    let def = &plan.shared.task_file.tasks[index];
                    let mut r = unrenderable(def, message, options);
                    r.ignored = r.status == Status::Failed && def.ignore_errors;
                    run.announce(&r);
                    failed = r.status == Status::Failed && !r.ignored;
                    if failed && plan.shared.task_file.tasks[index].run_once {
                        play.record_run_once(
                            index,
                            RunOnceOutcome {
                                registered: None,
                                failure: Some(r.message.clone()),
                            },
                        );
                    }
                    report.push(r);
                    if failed {
                        break;
                    }
                    position += 1;
                    continue;
                }
            }
        }
        let Some(task) = plan.tasks[position].ready() else {
            unreachable!("a deferred task was rendered above")
        };
        bar.task(position, &task.name);
        if task.module.kind() == crate::tasks::meta::KIND && task.skip.is_none() {
            progress.verbose(&format!("flush handlers: [{}] {}", target.name, task.name));
            let go_on = run_handlers(
                &mut run,
                &mut seat,
                index,
                &mut plan.handlers,
                &mut notified,
                &mut report,
                (&bar, position),
            )
            .await;
            if !go_on {
                failed = !report.interrupted;
                break;
            }
            // Handlers acted on the host: what was seen before is stale.
            looks.clear();
            window = 1;
            position += 1;
            continue;
        }
        let needs_look = task.skip.is_none() && task.module.look().is_some();
        if needs_look && !looks.contains_key(&task.look_key) {
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
            match looks.get(&task.look_key) {
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
            Outcome::Done(ran) => {
                let def = &plan.shared.task_file.tasks[task.index];
                let mut r = ran.result;
                r.ignored = r.status == Status::Failed && def.ignore_errors;
                run.announce(&r);
                if r.status == Status::Changed {
                    notified.extend(task.notify.iter().cloned());
                    run.would_have_changed |= options.check;
                }
                if let Some(name) = &task.register {
                    run.register(name, task, registered_value(&r, ran.fields));
                }
                if r.status != Status::Failed {
                    run.set_facts(task);
                }
                if def.run_once {
                    play.record_run_once(
                        task.index,
                        RunOnceOutcome {
                            registered: task
                                .register
                                .as_ref()
                                .and_then(|n| Some((n.clone(), run.registered.get(n)?.clone()))),
                            failure: (r.status == Status::Failed && !r.ignored)
                                .then(|| r.message.clone()),
                        },
                    );
                }
                if ran.acted {
                    looks.clear();
                    window = 1;
                    if def.reaches_beyond_its_host() {
                        play.note_acted_beyond(task.index);
                    }
                }
                loop_failed |= r.status == Status::Failed && !r.ignored;
                report.push(r);
                // A loop runs all its items, then the task fails, as in Ansible.
                let next_is_item = task.loop_item.is_some()
                    && plan
                        .tasks
                        .get(position + 1)
                        .is_some_and(|s| s.index() == index);
                if loop_failed && !next_is_item {
                    failed = true;
                    break;
                }
            }
        }
        position += 1;
    }
    let mut completed = !failed && report.unreachable.is_none() && !report.interrupted;
    if completed && let Some(last) = current {
        match leave_task(&mut run, &mut seat, last, &mut report).await {
            AfterTask::GoOn { .. } => {}
            AfterTask::Interrupted | AfterTask::Failed => completed = false,
        }
    }
    // Handlers at the end run once every host has finished its tasks, as in Ansible.
    let end = plan.shared.task_file.tasks.len();
    if completed
        && play.linear
        && !plan.handlers.is_empty()
        && !seat.arrive(play.points.before_task(end)).await
    {
        report.interrupted = true;
        completed = false;
    }
    if completed {
        run_handlers(
            &mut run,
            &mut seat,
            end,
            &mut plan.handlers,
            &mut notified,
            &mut report,
            (&bar, plan.tasks.len()),
        )
        .await;
    }
    drop(seat);
    report.round_trips = conn.round_trips();
    conn.close().await;
    report.set_duration(started.elapsed());
    bar.finish();
    report
}

/// The result of a task that could not be rendered during the run. In check mode the values it
/// waits for may come from tasks that check mode did not run: it is skipped, not failed.
fn unrenderable(def: &TaskDef, message: String, options: &RunOptions) -> TaskResult {
    if options.check && crate::render::is_undefined_message(&message) {
        let message =
            format!("check mode: needs a result that check mode did not produce ({message})");
        return not_run(def, Status::Skipped, message);
    }
    not_run(def, Status::Failed, message)
}

/// The result of a task that did not run on this host.
fn not_run(def: &TaskDef, status: Status, message: String) -> TaskResult {
    TaskResult {
        name: def.display_name(),
        module: def.module_name.clone(),
        status,
        message,
        diff: None,
        handler: false,
        ignored: false,
        duration_ms: 0,
    }
}

/// Runs the notified handlers of a flush at task `flush_at` (the number of tasks for the flush
/// at the end), in the order they are listed, and forgets the notifications. Where the hosts meet
/// at a handler, each handler runs on every notified host before the next starts. Returns false
/// when the host must stop (a handler failed, the connection broke, an interrupt).
async fn run_handlers(
    run: &mut HostRun<'_>,
    seat: &mut Seat<'_>,
    flush_at: usize,
    handlers: &mut Vec<Slot>,
    notified: &mut HashSet<String>,
    report: &mut HostReport,
    (bar, bar_position): (&HostProgress, usize),
) -> bool {
    let progress = run.progress;
    let play = run.play;
    let host = run.host.clone();
    // The handler (index in the task file's handlers) whose slots the host is in.
    let mut current: Option<usize> = None;
    // A looped handler grows into one slot per item as it is rendered.
    let mut next = 0;
    while next < handlers.len() {
        let position = next;
        next += 1;
        let index = handlers[position].index();
        let def = &run.shared.task_file.handlers[index];
        let name = def.name.as_ref().map(|n| n.value.as_str()).unwrap_or("");
        if !notified.contains(name) && !def.listen.iter().any(|topic| notified.contains(topic)) {
            continue;
        }
        if run.options.interrupt.signal().is_some() {
            report.interrupted = true;
            return false;
        }
        if current != Some(index) {
            if let Some(previous) = current
                && !leave_handler(run, seat, flush_at, previous, report).await
            {
                return false;
            }
            current = Some(index);
            if play.handler_syncs(index)
                && !seat
                    .arrive(play.points.before_handler(flush_at, index))
                    .await
            {
                report.interrupted = true;
                return false;
            }
        }
        if let Slot::Deferred(index) = handlers[position] {
            match run.prepare_deferred(index, true).await {
                Ok(tasks) => {
                    handlers.splice(
                        position..=position,
                        tasks.into_iter().map(|t| Slot::Ready(Box::new(t))),
                    );
                }
                Err(Deferral::Lost(e)) => {
                    lost(report, progress, &host, e);
                    return false;
                }
                Err(Deferral::Invalid(message)) => {
                    let mut r = unrenderable(def, message, run.options);
                    r.handler = true;
                    r.ignored = r.status == Status::Failed && def.ignore_errors;
                    run.announce(&r);
                    let stop = r.status == Status::Failed && !r.ignored;
                    report.push(r);
                    if stop {
                        return false;
                    }
                    continue;
                }
            }
        }
        let Some(handler) = handlers[position].ready() else {
            unreachable!("a deferred handler was rendered above")
        };
        bar.task(bar_position, &handler.name);
        let observed = match run
            .take_looks(std::slice::from_ref(&handlers[position]), 1)
            .await
        {
            Ok(mut l) => l.remove(&handler.look_key),
            Err(e) => {
                lost(report, progress, &host, e);
                return false;
            }
        };
        match run.run_task(handler, observed.as_ref()).await {
            Outcome::Lost(e) => {
                lost(report, progress, &host, e);
                return false;
            }
            Outcome::Done(ran) => {
                let mut r = ran.result;
                r.handler = true;
                r.ignored = r.status == Status::Failed
                    && run.shared.task_file.handlers[handler.index].ignore_errors;
                run.announce(&r);
                if r.status == Status::Changed {
                    notified.extend(handler.notify.iter().cloned());
                }
                if let Some(name) = &handler.register {
                    run.register(name, handler, registered_value(&r, ran.fields));
                }
                if r.status != Status::Failed {
                    run.set_facts(handler);
                }
                let stop = r.status == Status::Failed && !r.ignored;
                report.push(r);
                if stop {
                    return false;
                }
            }
        }
    }
    if let Some(previous) = current
        && !leave_handler(run, seat, flush_at, previous, report).await
    {
        return false;
    }
    notified.clear();
    true
}

/// Leaves a handler: its registered result becomes visible to the other hosts, and where the
/// hosts meet at it, waits until it ran on every host. False when interrupted meanwhile.
async fn leave_handler(
    run: &mut HostRun<'_>,
    seat: &mut Seat<'_>,
    flush_at: usize,
    index: usize,
    report: &mut HostReport,
) -> bool {
    if let Some(name) = &run.shared.task_file.handlers[index].register {
        run.publish(name);
    }
    if run.play.handler_syncs(index)
        && !seat
            .arrive(run.play.points.after_handler(flush_at, index))
            .await
    {
        report.interrupted = true;
        return false;
    }
    true
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
