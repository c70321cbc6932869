//! ansible-core, the oracle for Ansible's behaviour: installed into .venv-ansible by
//! integration/ansible/setup.sh (the README's test command runs it) and run as a user would,
//! against the same kind of test hosts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn ansible_playbook() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-ansible/bin/ansible-playbook");
    assert!(
        path.exists(),
        "ansible-playbook not found at {}: run `bash integration/ansible/setup.sh` (the README's test command does)",
        path.display()
    );
    path
}

/// A play over `group` with fact gathering off, from a task file in provision's mapping form
/// (`tasks:`, `handlers:`, optionally `strategy:`): the same text, one level deeper.
pub fn play_from_task_file(group: &str, task_file: &str) -> String {
    let mut play = format!("- hosts: {group}\n  gather_facts: false\n");
    for line in task_file.lines() {
        if line.trim().is_empty() {
            play.push('\n');
        } else {
            play.push_str("  ");
            play.push_str(line);
            play.push('\n');
        }
    }
    play
}

pub struct AnsibleRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl AnsibleRun {
    /// PLAY RECAP per host: host -> (ok, changed, failed, skipped).
    pub fn recap(&self) -> BTreeMap<String, (u64, u64, u64, u64)> {
        let recap = self
            .stdout
            .split("PLAY RECAP")
            .nth(1)
            .unwrap_or_else(|| panic!("no PLAY RECAP in:\n{}", self.stdout));
        recap
            .lines()
            .filter_map(|line| {
                let (host, counts) = line.split_once(" : ")?;
                let count = |name: &str| -> u64 {
                    counts
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix(&format!("{name}=")))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{name} in `{line}`"))
                };
                Some((
                    host.trim().to_string(),
                    (
                        count("ok"),
                        count("changed"),
                        count("failed"),
                        count("skipped"),
                    ),
                ))
            })
            .collect()
    }
}

/// `ansible-playbook -i INVENTORY PLAYBOOK` in `dir`. Host keys of the throw-away test hosts are
/// not checked here (the oracle only); provision's own runs check them.
pub async fn ansible_playbook_run(dir: &Path, inventory: &Path, playbook: &str) -> AnsibleRun {
    let path = dir.join("playbook.yml");
    std::fs::write(&path, playbook).unwrap();
    output(ansible_command(dir, inventory, &path)).await
}

/// The command every run here uses: `ansible-playbook -i INVENTORY PLAYBOOK` in `dir`, with the
/// oracle's settings.
fn ansible_command(dir: &Path, inventory: &Path, playbook: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(ansible_playbook());
    cmd.arg("-i")
        .arg(inventory)
        .arg(playbook)
        .current_dir(dir)
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False");
    cmd
}

async fn output(mut cmd: tokio::process::Command) -> AnsibleRun {
    let out = cmd.output().await.expect("ansible-playbook runs");
    AnsibleRun {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A stdout callback for `ansible_playbook_results`: at the end of the play, one line of JSON
/// with every task result in the order Ansible reported them (handlers included, `meta` tasks
/// report nothing), each with its loop items. ansible-core has no JSON callback of its own
/// (`ansible.posix.json` is in a collection).
const RESULTS_CALLBACK: &str = r#"
from __future__ import annotations

import json

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase


def _get(result, name):
    value = getattr(result, name, None)
    if value is None:
        value = getattr(result, "_" + name, None)
    return value


def _status(r):
    if r.get("unreachable"):
        return "unreachable"
    if r.get("failed"):
        return "failed"
    if r.get("skipped"):
        return "skipped"
    if r.get("changed"):
        return "changed"
    return "ok"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "provision_results"

    def __init__(self):
        super().__init__()
        self.results = []

    def _add(self, result, status):
        task = _get(result, "task")
        r = _get(result, "result") or {}
        items = None
        if isinstance(r.get("results"), list):
            items = [
                {"item": i.get("_ansible_item_label", i.get(i.get("ansible_loop_var", "item"))), "status": _status(i), "msg": str(i.get("msg", ""))}
                for i in r["results"]
                if isinstance(i, dict)
            ]
        self.results.append({
            "host": _get(result, "host").get_name(),
            "task": task.get_name(),
            "action": task.action,
            "handler": isinstance(task, Handler),
            "status": status,
            "msg": str(r.get("msg", "")),
            "items": items,
        })

    def v2_runner_on_ok(self, result):
        r = _get(result, "result") or {}
        self._add(result, "changed" if r.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._add(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._add(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._display.display("PROVISION-RESULTS " + json.dumps({"results": self.results}))
"#;

/// One task result on one host, as `ansible_playbook_results` reports it.
#[derive(Debug, Clone)]
pub struct AnsibleResult {
    pub host: String,
    pub task: String,
    pub action: String,
    pub handler: bool,
    /// `ok`, `changed`, `failed`, `skipped` or `unreachable`.
    pub status: String,
    pub msg: String,
    /// For a task with a loop: each item and its own status.
    pub items: Option<Vec<(serde_json::Value, String, String)>>,
}

/// `ansible-playbook` with `args` (e.g. `--check`) and a callback that reports every task result;
/// the results are `None` when the play did not get to its end (a syntax error). Pipelining is
/// on (fewer round trips; the same modules run), a connection that fails is retried, and SSH's
/// control sockets are kept in `dir`, so plays on different hosts share nothing.
pub async fn ansible_playbook_results(
    dir: &Path,
    inventory: &Path,
    playbook: &str,
    args: &[&str],
) -> (AnsibleRun, Option<Vec<AnsibleResult>>) {
    let path = dir.join("playbook.yml");
    std::fs::write(&path, playbook).unwrap();
    let plugins = dir.join(".callback_plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("provision_results.py"), RESULTS_CALLBACK).unwrap();
    let mut cmd = ansible_command(dir, inventory, &path);
    cmd.args(args)
        .env("ANSIBLE_CALLBACK_PLUGINS", &plugins)
        .env("ANSIBLE_STDOUT_CALLBACK", "provision_results")
        .env("ANSIBLE_PIPELINING", "True")
        .env("ANSIBLE_SSH_RETRIES", "3")
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", dir.join(".cp"));
    let run = output(cmd).await;
    let results = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("PROVISION-RESULTS "))
        .map(|json| {
            let v: serde_json::Value = serde_json::from_str(json).expect("callback JSON parses");
            v["results"]
                .as_array()
                .expect("results list")
                .iter()
                .map(|r| AnsibleResult {
                    host: r["host"].as_str().unwrap_or_default().to_string(),
                    task: r["task"].as_str().unwrap_or_default().to_string(),
                    action: r["action"].as_str().unwrap_or_default().to_string(),
                    handler: r["handler"].as_bool().unwrap_or(false),
                    status: r["status"].as_str().unwrap_or_default().to_string(),
                    msg: r["msg"].as_str().unwrap_or_default().to_string(),
                    items: r["items"].as_array().map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                (
                                    i["item"].clone(),
                                    i["status"].as_str().unwrap_or_default().to_string(),
                                    i["msg"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    }),
                })
                .collect()
        });
    (run, results)
}
