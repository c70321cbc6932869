//! The executor: hosts in parallel (up to `forks`), tasks in order on each host over one SSH
//! connection, in step with the other hosts where they could see the difference (`lockstep`),
//! handlers at the end, a report per host.

pub mod facts;
mod host;
pub mod interrupt;
pub mod lockstep;
pub mod looks;
pub mod plan;
pub mod progress;
pub mod report;

use crate::roles::RoleSource;
use crate::ssh::{ConnectOptions, Target};
use crate::tasks::{PreparedTask, Strategy, TaskFile};
use progress::Progress;
use report::HostReport;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub struct RunOptions {
    pub forks: usize,
    pub check: bool,
    pub diff: bool,
    pub connect: ConnectOptions,
    /// Set by SIGINT/SIGTERM: hosts start no new task.
    pub interrupt: Arc<interrupt::Interrupt>,
}

/// A task of a host's plan: rendered before the run, or, when it refers to what is known only
/// while the run goes on (registered results, facts), rendered on the host when its turn comes.
pub enum Slot {
    Ready(Box<PreparedTask>),
    /// The task's index in the task file's tasks (or handlers).
    Deferred(usize),
}

impl Slot {
    /// The task's index in the task file's list.
    pub fn index(&self) -> usize {
        match self {
            Slot::Ready(t) => t.index,
            Slot::Deferred(i) => *i,
        }
    }

    pub fn ready(&self) -> Option<&PreparedTask> {
        match self {
            Slot::Ready(t) => Some(t),
            Slot::Deferred(_) => None,
        }
    }
}

/// What every host's run shares: the task file and where its templates and files come from.
pub struct RunShared {
    pub env: minijinja::Environment<'static>,
    pub task_file: TaskFile,
    pub roles: RoleSource,
    pub default_become: bool,
}

/// One host's work, its tasks rendered for it where they can be before the run.
pub struct HostPlan {
    pub target: Target,
    pub tasks: Vec<Slot>,
    pub handlers: Vec<Slot>,
    /// The host's variables, for the tasks rendered during the run.
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub shared: Arc<RunShared>,
}

/// What the hosts of one run share while it goes on.
pub(crate) struct Play {
    lockstep: lockstep::Lockstep,
    /// Per task of the task file: whether the hosts meet before and after it.
    sync_points: Vec<bool>,
    linear: bool,
    /// What each host registered and gathered so far, seen by the others in `hostvars`.
    published: Mutex<HashMap<String, Map<String, Json>>>,
    /// The outcome of each `run_once` task, by task index, as the host that ran it left it.
    run_once: Mutex<HashMap<usize, RunOnceOutcome>>,
}

#[derive(Clone)]
pub(crate) struct RunOnceOutcome {
    host: String,
    registered: Option<(String, Json)>,
    failure: Option<String>,
}

impl Play {
    fn new(
        shared: Option<&RunShared>,
        hosts: usize,
        options: &RunOptions,
        forks: Arc<Semaphore>,
    ) -> Play {
        let (sync_points, linear) = match shared {
            Some(s) => {
                let linear = s.task_file.strategy == Strategy::Linear;
                let points = s
                    .task_file
                    .tasks
                    .iter()
                    .map(|t| t.run_once || (linear && t.is_sync_point()))
                    .collect();
                (points, linear)
            }
            None => (Vec::new(), false),
        };
        Play {
            lockstep: lockstep::Lockstep::new(hosts, forks, options.interrupt.clone()),
            sync_points,
            linear,
            published: Mutex::new(HashMap::new()),
            run_once: Mutex::new(HashMap::new()),
        }
    }

    fn syncs(&self, index: usize) -> bool {
        self.sync_points.get(index).copied().unwrap_or(false)
    }

    fn publish(&self, host: &str, values: Map<String, Json>) {
        let mut published = self.published.lock().expect("no panic while held");
        published
            .entry(host.to_string())
            .or_default()
            .extend(values);
    }

    fn record_run_once(
        &self,
        index: usize,
        host: &str,
        registered: Option<(String, Json)>,
        failure: Option<String>,
    ) {
        self.run_once.lock().expect("no panic while held").insert(
            index,
            RunOnceOutcome {
                host: host.to_string(),
                registered,
                failure,
            },
        );
    }

    /// `hostvars` with what the hosts registered and gathered so far.
    fn overlay_hostvars(&self, vars: &mut Map<String, Json>) {
        let published = self.published.lock().expect("no panic while held");
        if let Some(Json::Object(hostvars)) = vars.get_mut("hostvars") {
            for (host, values) in published.iter() {
                if let Some(Json::Object(entry)) = hostvars.get_mut(host) {
                    entry.extend(values.clone());
                }
            }
        }
    }
}

/// Runs every host's plan; reports come back in the order of `plans`.
pub async fn run_plans(
    plans: Vec<HostPlan>,
    options: RunOptions,
    progress: Arc<Progress>,
) -> Vec<HostReport> {
    let options = Arc::new(options);
    let forks = Arc::new(Semaphore::new(options.forks.max(1)));
    let play = Arc::new(Play::new(
        plans.first().map(|p| p.shared.as_ref()),
        plans.len(),
        &options,
        forks,
    ));
    let mut handles = Vec::new();
    for (seat, plan) in plans.into_iter().enumerate() {
        let options = options.clone();
        let progress = progress.clone();
        let play = play.clone();
        handles.push(tokio::spawn(async move {
            let fork = play.lockstep.fork().await;
            if options.interrupt.signal().is_some() {
                play.lockstep.leave(seat);
                return HostReport::not_started(&plan.target.name, &plan.target.address);
            }
            host::run_host(plan, &options, &progress, &play, seat, fork).await
        }));
    }
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.await.expect("host task does not panic"));
    }
    reports
}
