//! The executor: hosts in parallel (up to `forks`), tasks in order on each host over one SSH
//! connection, handlers at the end, a report per host.

mod host;
pub mod looks;
pub mod plan;
pub mod progress;
pub mod report;

use crate::ssh::{ConnectOptions, Target};
use crate::tasks::PreparedTask;
use progress::Progress;
use report::HostReport;
use std::sync::Arc;

pub struct RunOptions {
    pub forks: usize,
    pub check: bool,
    pub diff: bool,
    pub connect: ConnectOptions,
}

/// One host's work, every task already rendered for it.
pub struct HostPlan {
    pub target: Target,
    pub tasks: Vec<PreparedTask>,
    pub handlers: Vec<PreparedTask>,
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
            host::run_host(plan, &options, &progress).await
        }));
    }
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.await.expect("host task does not panic"));
    }
    reports
}
