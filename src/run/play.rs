//! What the hosts of one run share while it goes on: where they meet (`lockstep`), what each
//! registered (other hosts read it through `hostvars`), and the tasks run once for all.

use super::RunShared;
use super::interrupt::Interrupt;
use super::lockstep::{Lockstep, Points};
use crate::tasks::{Strategy, TaskDef};
use serde_json::{Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub(super) struct Play {
    pub lockstep: Lockstep,
    pub points: Points,
    /// The hosts' names, in the play's order (a seat's number is its place here).
    names: Vec<String>,
    /// Per task of the task file: whether the hosts meet before and after it.
    task_syncs: Vec<bool>,
    /// Per handler: whether the hosts meet before and after it.
    handler_syncs: Vec<bool>,
    pub linear: bool,
    /// What each host registered so far, seen by the others in `hostvars`.
    published: Mutex<HashMap<String, Map<String, Json>>>,
    /// The seat chosen for each `run_once` task, by task index: chosen once, by the first host
    /// there, so that a host leaving meanwhile cannot make a second one run it.
    run_once_seats: Mutex<HashMap<usize, usize>>,
    /// The outcome of each `run_once` task, as its host left it.
    run_once_outcomes: Mutex<HashMap<usize, RunOnceOutcome>>,
    /// Tasks that reach beyond their host and acted there on some host: every host's looks
    /// taken before are stale afterwards.
    acted_beyond: Mutex<HashSet<usize>>,
}

#[derive(Clone)]
pub(super) struct RunOnceOutcome {
    pub registered: Option<(String, Json)>,
    pub failure: Option<String>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("no panic while held")
}

impl Play {
    pub fn new(
        shared: &RunShared,
        names: Vec<String>,
        interrupt: Arc<Interrupt>,
        forks: Arc<Semaphore>,
    ) -> Play {
        let file = &shared.task_file;
        let linear = file.strategy == Strategy::Linear;
        let syncs = |t: &TaskDef| t.run_once || (linear && is_sync_point(t, shared));
        Play {
            lockstep: Lockstep::new(names.len(), forks, interrupt),
            points: Points::new(file.handlers.len()),
            names,
            task_syncs: file.tasks.iter().map(syncs).collect(),
            handler_syncs: file.handlers.iter().map(syncs).collect(),
            linear,
            published: Mutex::new(HashMap::new()),
            run_once_seats: Mutex::new(HashMap::new()),
            run_once_outcomes: Mutex::new(HashMap::new()),
            acted_beyond: Mutex::new(HashSet::new()),
        }
    }

    pub fn task_syncs(&self, index: usize) -> bool {
        self.task_syncs.get(index).copied().unwrap_or(false)
    }

    pub fn handler_syncs(&self, index: usize) -> bool {
        self.handler_syncs.get(index).copied().unwrap_or(false)
    }

    pub fn name(&self, seat: usize) -> &str {
        &self.names[seat]
    }

    /// The seat that runs `run_once` task `index`: the first host still in the play when the
    /// first host asks.
    pub fn run_once_seat(&self, index: usize) -> Option<usize> {
        let mut seats = locked(&self.run_once_seats);
        if let Some(seat) = seats.get(&index) {
            return Some(*seat);
        }
        let seat = self.lockstep.first_in_play()?;
        seats.insert(index, seat);
        Some(seat)
    }

    pub fn record_run_once(&self, index: usize, outcome: RunOnceOutcome) {
        locked(&self.run_once_outcomes).insert(index, outcome);
    }

    pub fn run_once_outcome(&self, index: usize) -> Option<RunOnceOutcome> {
        locked(&self.run_once_outcomes).get(&index).cloned()
    }

    pub fn note_acted_beyond(&self, index: usize) {
        locked(&self.acted_beyond).insert(index);
    }

    pub fn acted_beyond(&self, index: usize) -> bool {
        locked(&self.acted_beyond).contains(&index)
    }

    pub fn publish(&self, host: &str, name: &str, value: Json) {
        locked(&self.published)
            .entry(host.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }

    /// `hostvars` with what the hosts registered so far.
    pub fn overlay_hostvars(&self, vars: &mut Map<String, Json>) {
        let published = locked(&self.published);
        if let Some(Json::Object(hostvars)) = vars.get_mut("hostvars") {
            for (host, values) in published.iter() {
                if let Some(Json::Object(entry)) = hostvars.get_mut(host) {
                    entry.extend(values.clone());
                }
            }
        }
    }
}

/// A task hosts meet at: it names other hosts or can reach them (`TaskDef::is_sync_point`), or
/// it is a template whose file names other hosts (or whose file is known only per host).
fn is_sync_point(task: &TaskDef, shared: &RunShared) -> bool {
    if task.is_sync_point() {
        return true;
    }
    match task.template_source() {
        None => false,
        Some(src) if src.contains("{{") || src.contains("{%") => true,
        Some(src) => shared
            .roles
            .template(src)
            .map(|t| crate::tasks::mentions_other_hosts(&t.text))
            .unwrap_or(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::RoleSource;
    use crate::tasks::TaskFile;

    #[test]
    fn a_template_that_names_other_hosts_is_a_sync_point() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = dir.path().join("tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/peers.j2"),
            "{% for h in groups['web'] %}{{ hostvars[h].ip }}\n{% endfor %}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("templates/own.j2"),
            "{{ inventory_hostname }}\n",
        )
        .unwrap();
        let file = TaskFile::parse(
            "t.yml",
            "tasks:\n  - template: {src: peers.j2, dest: /tmp/a}\n  - template: {src: own.j2, dest: /tmp/b}\n  - template: {src: \"{{ name }}.j2\", dest: /tmp/c}\n",
        )
        .unwrap();
        let shared = RunShared {
            env: crate::render::environment(),
            task_file: file,
            roles: RoleSource::new(Some(&tasks)),
            default_become: false,
        };
        let play = Play::new(
            &shared,
            vec!["h1".into()],
            Arc::new(Interrupt::default()),
            Arc::new(Semaphore::new(1)),
        );
        let syncs: Vec<bool> = (0..3).map(|i| play.task_syncs(i)).collect();
        assert_eq!(
            syncs,
            [true, false, true],
            "a template named per host may name anyone"
        );
    }
}
