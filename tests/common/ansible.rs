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
    let out = tokio::process::Command::new(ansible_playbook())
        .arg("-i")
        .arg(inventory)
        .arg(&path)
        .current_dir(dir)
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
        .output()
        .await
        .expect("ansible-playbook runs");
    AnsibleRun {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
