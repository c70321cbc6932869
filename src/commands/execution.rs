//! What `run` and `playbook` share: the command line's run settings turned into the library's.

use crate::cli::{ApplyOptions, ExecutionArgs};
use crate::known_hosts::KnownHosts;
use crate::run::RunOptions;
use crate::run::plan::{self, ConnectionDefaults};
use crate::ssh::ConnectOptions;
use crate::tasks::tags::TagFilter;
use std::sync::Arc;
use std::time::Duration;

pub fn connection_defaults(execution: &ExecutionArgs) -> ConnectionDefaults {
    ConnectionDefaults {
        user: Some(execution.user.clone()),
        private_key: execution.private_key.clone(),
        become_: execution.become_,
    }
}

pub fn tag_filter(execution: &ExecutionArgs) -> TagFilter {
    TagFilter::new(&execution.tags, &execution.skip_tags)
}

pub fn run_options(execution: &ExecutionArgs, apply: &ApplyOptions) -> RunOptions {
    let known_hosts = apply
        .known_hosts
        .clone()
        .unwrap_or_else(plan::known_hosts_default);
    RunOptions {
        forks: apply.forks,
        check: execution.check,
        diff: execution.diff,
        connect: ConnectOptions {
            known_hosts: Arc::new(KnownHosts::new(known_hosts)),
            timeout: Duration::from_secs(execution.connect_timeout.max(1)),
            retries: execution.connect_retries,
            first_backoff: Duration::from_secs(1),
        },
        interrupt: Default::default(),
    }
}

pub fn output(execution: &ExecutionArgs, apply: &ApplyOptions) -> crate::apply::Output {
    crate::apply::Output {
        json: execution.json,
        verbose: apply.verbose,
    }
}
