//! The executor: hosts in parallel (up to `forks`), tasks in order on each host over one SSH
//! connection, handlers at the end, a report per host.

pub mod facts;
mod host;
pub mod interrupt;
pub mod looks;
pub mod plan;
pub mod progress;
pub mod report;

use crate::roles::RoleSource;
use crate::ssh::{ConnectOptions, Target};
use crate::tasks::{PreparedTask, TaskFile};
use progress::Progress;
use report::HostReport;
use std::sync::Arc;

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
    options: RunOptions,
    progress: Arc<Progress>,
) -> Vec<HostReport> {
    let options = Arc::new(options);
    let forks = Arc::new(tokio::sync::Semaphore::new(options.forks.max(1)));
    let mut handles = Vec::new();
    for plan in plans {
        let options = options.clone();
        let progress = progress.clone();
        let forks = forks.clone();
        handles.push(tokio::spawn(async move {
            let _permit = forks
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            if options.interrupt.signal().is_some() {
                return HostReport::not_started(&plan.target.name, &plan.target.address);
            }
            host::run_host(plan, &options, &progress).await
        }));
    }
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.await.expect("host task does not panic"));
    }
    reports
}
