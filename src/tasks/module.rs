//! The contract every module keeps: look (a command whose output describes the host's state),
//! decide (a pure function from that output to a plan), and the steps that carry the plan out.
//! Because a look is only a command plus a parser, the executor batches the looks of many tasks
//! into one remote script, and deciding is unit-testable with no host at all.

pub use crate::ssh::ExecOutput;

/// What a task needs to see on the host before it decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    /// A shell snippet; what it prints is the observation.
    Shell(String),
    /// A path's type, mode and owner (and the SHA-256 of a regular file with `checksum`), observed
    /// as [`super::remote::stat_look`] prints it. The executor answers all of a host's path looks
    /// with one `stat` and one `sha256sum`.
    Path { path: String, checksum: bool },
}

impl Look {
    /// The look as a shell snippet of its own.
    pub fn as_shell(&self) -> String {
        match self {
            Look::Shell(s) => s.clone(),
            Look::Path { path, checksum } => super::remote::stat_look(path, *checksum),
        }
    }
}

/// What a look printed, and its exit status.
#[derive(Debug, Clone)]
pub struct Observed {
    pub status: i32,
    pub output: String,
}

/// One remote command of a plan, optionally fed with data on stdin (file contents).
#[derive(Debug, Clone)]
pub struct Step {
    pub script: String,
    pub stdin: Option<Vec<u8>>,
}

impl Step {
    pub fn run(script: impl Into<String>) -> Step {
        Step {
            script: script.into(),
            stdin: None,
        }
    }
}

/// A file the plan will write, so `--diff` can show old against new.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub new_content: Vec<u8>,
    /// False when the file does not exist yet (the diff is against nothing).
    pub exists: bool,
}

#[derive(Debug, Clone)]
pub enum Plan {
    /// The host is already as wanted.
    Ok {
        reason: String,
    },
    /// The task does not apply (a guard says so).
    Skip {
        reason: String,
    },
    Change(Change),
}

#[derive(Debug, Clone)]
pub struct Change {
    /// What will change, in a few words ("create directory", "content differs").
    pub summary: String,
    pub steps: Vec<Step>,
    pub file: Option<FileChange>,
    /// Commands run for their effect (command/shell): in check mode they are skipped, not predicted.
    pub runs_user_command: bool,
    /// The steps only observe (wait_for): success reports `ok`, and later looks stay valid.
    pub observes_only: bool,
    /// The steps only read (an HTTP GET): they run in check mode too, so what they register is
    /// there for the tasks after them.
    pub runs_in_check: bool,
    /// Shown in the progress before the steps run (what they will wait for, say).
    pub notice: Option<String>,
}

impl Plan {
    pub fn ok(reason: impl Into<String>) -> Plan {
        Plan::Ok {
            reason: reason.into(),
        }
    }

    pub fn change(summary: impl Into<String>, steps: Vec<Step>) -> Plan {
        Plan::Change(Change {
            summary: summary.into(),
            steps,
            file: None,
            runs_user_command: false,
            observes_only: false,
            runs_in_check: false,
            notice: None,
        })
    }
}

/// A failure found while deciding (the host is in a state the task cannot fix).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DecideError(pub String);

pub trait Module: Send + Sync + std::fmt::Debug {
    /// The module's name as written in task files.
    fn kind(&self) -> &'static str;

    /// A one-line description of what the task acts on, for progress and results.
    fn target(&self) -> String;

    /// What the decision depends on; `None` if it needs no look. A shell look runs with the
    /// task's privileges and should exit 0 for every ordinary state, printing nothing on stderr.
    fn look(&self) -> Option<Look>;

    /// Decides from the look's output (`None` when `look` returned `None`).
    fn decide(&self, observed: Option<&Observed>) -> Result<Plan, DecideError>;

    /// What `register:` records of the last step run, besides `changed`, `failed`, `skipped`
    /// and `msg`.
    fn registered(&self, _output: &ExecOutput) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// What `register:` records of a task that ran no step (what `stat` saw, what `debug`
    /// showed).
    fn found(&self, _observed: Option<&Observed>) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// Variables the task gives the host for the tasks after it (`set_fact`).
    fn sets_facts(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        None
    }

    /// Whether the steps changed anything, when only their output can tell (pip compares what
    /// is installed before and after); `None` keeps the plan's own answer.
    fn changed_by(&self, _output: &ExecOutput) -> Option<bool> {
        None
    }

    /// A failure that the step's output shows although it exited 0 (an HTTP status not
    /// expected, say); the executor already fails a step that exits non-zero.
    fn output_failure(&self, _output: &ExecOutput) -> Option<String> {
        None
    }
}
