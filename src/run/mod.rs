//! The executor: hosts in parallel (up to `forks`), tasks in order on each host over one SSH
//! connection, in step with the other hosts where they could see the difference (`lockstep`),
//! handlers at the end, a report per host.

pub mod facts;
mod host;
pub mod interrupt;
pub mod lockstep;
pub mod looks;
pub mod plan;
mod play;
pub mod progress;
pub mod report;

use crate::roles::RoleSource;
use crate::ssh::{ConnectOptions, Target};
use crate::tasks::{PreparedTask, TaskFile};
use lockstep::Seat;
use play::Play;
use progress::Progress;
use report::HostReport;
use std::sync::Arc;
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

/// Runs every host's plan; reports come back in the order of `plans`.
pub async fn run_plans(
    plans: Vec<HostPlan>,
    options: Arc<RunOptions>,
    progress: Arc<Progress>,
) -> Vec<HostReport> {
    let Some(first) = plans.first() else {
        return Vec::new();
    };
    let forks = Arc::new(Semaphore::new(options.forks.max(1)));
    let names: Vec<String> = plans.iter().map(|p| p.target.name.clone()).collect();
    let play = Arc::new(Play::new(
        &first.shared,
        names,
        options.interrupt.clone(),
        forks,
    ));
    let mut handles = Vec::new();
    for (number, plan) in plans.into_iter().enumerate() {
        let options = options.clone();
        let progress = progress.clone();
        let play = play.clone();
        handles.push(tokio::spawn(async move {
            let seat = Seat::take(&play.lockstep, number).await;
            if options.interrupt.signal().is_some() {
                return HostReport::not_started(&plan.target.name, &plan.target.address);
            }
            host::run_host(plan, &options, &progress, &play, seat).await
        }));
    }
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.await.expect("host task does not panic"));
    }
    reports
}
