//! Differential tests with ansible-core as the oracle. Every case file in `tests/ansible_cases/`
//! (see its README) is run on twin test hosts, one for `ansible-playbook` and one for
//! `provision run`: the same tasks cold, again (warm), then in check mode. For each run the
//! per-task statuses (ok / changed / failed / skipped, in task order, handlers included) and the
//! exit class must be the same, and after each run so must the end state of the paths the case
//! lists (type, mode, owner, group, link target, SHA-256 of a regular file's content).
//!
//! Cases in `tests/ansible_cases/pending/` are where provision still differs from Ansible; they
//! are not run here until provision is fixed and the file is moved up. To run chosen cases
//! (pending ones too): `PROVISION_DIFF_CASES=pending/link_over_file,copy_content cargo test
//! --test ansible_differential -- --nocapture`.

mod common;
use common::ansible::{AnsibleResult, ansible_playbook_results, play_from_task_file};
use common::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Cases run at once: each has two containers, and ansible-playbook is CPU-heavy (2-core CI).
const CONCURRENT_CASES: usize = 4;

/// The three runs of every case, in order.
const RUNS: [&str; 3] = ["cold", "warm", "check"];

/// What can be compared in a run, as named in a case's `difference.not_compared`.
const ASPECTS: [&str; 3] = ["status", "exit", "state"];

/// The header of a case file: what the harness reads. `tasks`, `handlers` and `vars` are passed
/// to both tools as they are written (the text, not a re-serialisation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    /// Paths whose end state is compared, recursively.
    compare: Vec<String>,
    /// A shell script run as root on both hosts before the first run (the state a case starts
    /// from: a file without a final newline, a symlink to copy onto…).
    #[serde(default)]
    setup: Option<String>,
    /// Files for `template` (name -> text).
    #[serde(default)]
    templates: BTreeMap<String, String>,
    /// Files for `copy: src` (name -> text).
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// A deliberate difference that the README's "Differences from Ansible" documents.
    #[serde(default)]
    difference: Option<Difference>,
    #[allow(dead_code)]
    tasks: serde::de::IgnoredAny,
    #[allow(dead_code)]
    #[serde(default)]
    handlers: Option<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    #[serde(default)]
    vars: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    /// Why, citing the README.
    reason: String,
    /// `RUN.ASPECT` (`warm.status`, `cold.state`…) not compared. Each must still differ: a
    /// difference that no longer shows is an error, so the entry cannot outlive the behaviour.
    not_compared: Vec<String>,
}

/// The keys of a case file passed to both tools as task text.
const TASK_KEYS: [&str; 3] = ["tasks", "handlers", "vars"];

struct Case {
    /// The file's path relative to `tests/ansible_cases`, without `.yml`.
    id: String,
    /// The role and inventory group name: the file's stem.
    name: String,
    header: Header,
    /// The top-level `tasks:`, `handlers:` and `vars:` blocks, verbatim.
    task_text: String,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible_cases")
}

/// The case files to run: every `*.yml` directly in `tests/ansible_cases` (not `pending/`), or
/// those `PROVISION_DIFF_CASES` names.
fn case_files() -> Vec<(String, PathBuf)> {
    let dir = cases_dir();
    if let Ok(list) = std::env::var("PROVISION_DIFF_CASES") {
        return list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|id| {
                let id = id.trim_end_matches(".yml").to_string();
                let path = dir.join(format!("{id}.yml"));
                assert!(path.exists(), "PROVISION_DIFF_CASES: no {}", path.display());
                (id, path)
            })
            .collect();
    }
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    files.sort();
    files
}

/// Splits a case file into its top-level blocks (a line at column 0 starting `key:` opens one);
/// returns the header and the task text.
fn load_case(id: &str, path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "{id}: a case file is named in lower case, digits and `_` (it is an inventory group)"
        ));
    }
    let header: Header = serde_saphyr::from_str(&text).map_err(|e| format!("{id}.yml: {e}"))?;
    let key_re = regex::Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*):").unwrap();
    let mut task_text = String::new();
    let mut keep = false;
    for line in text.lines() {
        if let Some(m) = key_re.captures(line) {
            keep = TASK_KEYS.contains(&&m[1]);
        }
        if keep {
            task_text.push_str(line);
            task_text.push('\n');
        }
    }
    for p in &header.compare {
        if !p.starts_with('/') || p.contains('\'') || p == "/" {
            return Err(format!(
                "{id}.yml: compare: `{p}` must be an absolute path below / without quotes"
            ));
        }
    }
    if let Some(d) = &header.difference {
        if d.reason.trim().is_empty() || d.not_compared.is_empty() {
            return Err(format!(
                "{id}.yml: a difference needs a reason and what is not compared"
            ));
        }
        for item in &d.not_compared {
            let ok = item
                .split_once('.')
                .is_some_and(|(r, a)| RUNS.contains(&r) && ASPECTS.contains(&a));
            if !ok {
                return Err(format!(
                    "{id}.yml: difference.not_compared: `{item}` is not RUN.ASPECT (runs {RUNS:?}, aspects {ASPECTS:?})"
                ));
            }
        }
    }
    Ok(Case {
        id: id.to_string(),
        name,
        header,
        task_text,
    })
}

/// One row of a run's report, in the one vocabulary both tools are mapped to.
#[derive(Debug, Clone)]
struct Row {
    /// `name` or `name (item=…)`, with `handler ` in front for a handler.
    task: String,
    status: String,
    /// Why (not compared, shown in a difference).
    message: String,
}

/// What one tool did in one run.
struct Outcome {
    exit: String,
    rows: Vec<Row>,
    /// The tool's output, shown when its report cannot be read.
    output: String,
}

fn exit_class(code: i32) -> String {
    match code {
        0 => "success".into(),
        2 => "task failure".into(),
        other => format!("error (exit {other})"),
    }
}

/// An item as provision names it in `name (item=…)`: a string as it is, anything else as Python
/// shows a value (`['a', 'b']`, `{'k': 1}`, `True`, `None`), as it does.
fn shown_item(item: &serde_json::Value) -> String {
    fn show(v: &serde_json::Value, top: bool) -> String {
        match v {
            serde_json::Value::String(s) if top => s.clone(),
            serde_json::Value::String(s) => format!("'{s}'"),
            serde_json::Value::Null => "None".into(),
            serde_json::Value::Bool(true) => "True".into(),
            serde_json::Value::Bool(false) => "False".into(),
            serde_json::Value::Array(a) => format!(
                "[{}]",
                a.iter()
                    .map(|x| show(x, false))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            serde_json::Value::Object(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, x)| format!("'{k}': {}", show(x, false)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.to_string(),
        }
    }
    show(item, true)
}

fn handler_prefix(handler: bool) -> &'static str {
    if handler { "handler " } else { "" }
}

fn ansible_rows(results: &[AnsibleResult]) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in results {
        if r.action.ends_with("meta") {
            continue;
        }
        let prefix = handler_prefix(r.handler);
        match &r.items {
            Some(items) if !items.is_empty() => {
                for (item, status, msg) in items {
                    rows.push(Row {
                        task: format!("{prefix}{} (item={})", r.task, shown_item(item)),
                        status: status.clone(),
                        message: msg.clone(),
                    });
                }
            }
            _ => rows.push(Row {
                task: format!("{prefix}{}", r.task),
                status: r.status.clone(),
                message: r.msg.clone(),
            }),
        }
    }
    rows
}

fn provision_rows(json: &serde_json::Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for host in json["hosts"].as_array().into_iter().flatten() {
        if let Some(reason) = host["unreachable"].as_str() {
            rows.push(Row {
                task: "(connection)".into(),
                status: "unreachable".into(),
                message: reason.to_string(),
            });
        }
        for t in host["tasks"].as_array().into_iter().flatten() {
            if t["module"].as_str() == Some("meta") {
                continue;
            }
            rows.push(Row {
                task: format!(
                    "{}{}",
                    handler_prefix(t["handler"].as_bool().unwrap_or(false)),
                    t["name"].as_str().unwrap_or_default()
                ),
                status: t["status"].as_str().unwrap_or_default().to_string(),
                message: t["message"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    rows
}

/// The end state of the case's paths on a host: one line per path found (recursively), sorted.
async fn end_state(host: &Host, paths: &[String]) -> Vec<String> {
    let mut script = String::new();
    for p in paths {
        script.push_str(&format!(
            "if [ -e '{p}' ] || [ -L '{p}' ]; then find '{p}' -printf 'S\\t%p\\t%y\\t%#m\\t%u\\t%g\\t%l\\n'; \
             find '{p}' -type f -exec sha256sum {{}} + | sed 's/^/H\\t/'; else printf 'S\\t%s\\tabsent\\n' '{p}'; fi\n"
        ));
    }
    let out = host.sh(&script).await;
    let mut hashes = BTreeMap::new();
    let mut entries = BTreeMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("H\t") {
            let (hash, path) = rest.split_once("  ").expect("sha256sum line");
            hashes.insert(path.to_string(), hash.to_string());
        } else if let Some(rest) = line.strip_prefix("S\t") {
            let f: Vec<&str> = rest.split('\t').collect();
            entries.insert(f[0].to_string(), f[1..].to_vec().join("\t"));
        }
    }
    entries
        .into_iter()
        .map(|(path, fields)| {
            let f: Vec<&str> = fields.split('\t').collect();
            match f[0] {
                "absent" => format!("{path}: absent"),
                "l" => format!("{path}: link -> {} owner={} group={}", f[4], f[2], f[3]),
                kind => {
                    let kind = match kind {
                        "f" => "file",
                        "d" => "dir",
                        other => other,
                    };
                    let sha = hashes
                        .get(&path)
                        .map(|h| format!(" sha256={}", &h[..16]))
                        .unwrap_or_default();
                    format!(
                        "{path}: {kind} mode={} owner={} group={}{sha}",
                        f[1], f[2], f[3]
                    )
                }
            }
        })
        .collect()
}

/// The differences between two lists, in a readable form; empty when equal.
fn diff_lists(what: &str, ansible: &[String], provision: &[String]) -> String {
    if ansible == provision {
        return String::new();
    }
    let mut out = format!("{what} differ (- ansible-playbook, + provision):\n");
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, ansible, provision) {
        let (_, old, new) = op.as_tag_tuple();
        match op.tag() {
            similar::DiffTag::Equal => {
                for line in &ansible[old] {
                    out.push_str(&format!("      {line}\n"));
                }
            }
            _ => {
                for line in &ansible[old] {
                    out.push_str(&format!("    - {line}\n"));
                }
                for line in &provision[new] {
                    out.push_str(&format!("    + {line}\n"));
                }
            }
        }
    }
    out
}

fn row_lines(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}: {}", r.task, r.status))
        .collect()
}

fn messages(rows: &[Row]) -> String {
    rows.iter()
        .filter(|r| !r.message.is_empty())
        .map(|r| format!("      {}: {}\n", r.task, r.message))
        .collect()
}

struct Twin {
    host: Host,
    dir: PathBuf,
    inventory: PathBuf,
}

async fn twin(dir: PathBuf, key: &Key, case: &Case) -> Twin {
    std::fs::create_dir_all(&dir).unwrap();
    let host = start_host("h1", key).await;
    let inventory = write_inventory(&dir, &case.name, &[&host], key, "ansible_user=ubuntu\n");
    if let Some(setup) = &case.header.setup {
        let out = host.sh(&format!("set -e\n{setup}\necho SETUP-DONE")).await;
        assert!(
            out.ends_with("SETUP-DONE\n"),
            "{}.yml: setup failed on a host:\n{out}",
            case.id
        );
    }
    Twin {
        host,
        dir,
        inventory,
    }
}

fn write_named_files(dir: &Path, files: &BTreeMap<String, String>) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// Runs one case; `Err` holds the report of every difference found. Also says where the time
/// went: starting the hosts, then each run (both tools at once).
async fn run_case(case: Case) -> (Result<(), String>, String) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "ed25519");
    let (oracle, ours) = tokio::join!(
        twin(tmp.path().join("ansible"), &key, &case),
        twin(tmp.path().join("provision"), &key, &case)
    );
    let mut timing = format!("hosts {:.1}s, runs", started.elapsed().as_secs_f64());

    // provision: DIR/<case>.yml, templates and files beside DIR.
    let tasks_dir = ours.dir.join("roles/tasks");
    std::fs::create_dir_all(&tasks_dir).unwrap();
    std::fs::write(
        tasks_dir.join(format!("{}.yml", case.name)),
        &case.task_text,
    )
    .unwrap();
    write_named_files(&ours.dir.join("roles/templates"), &case.header.templates);
    write_named_files(&ours.dir.join("roles/files"), &case.header.files);
    // ansible-playbook: a play of the same text; templates/ and files/ beside the playbook.
    write_named_files(&oracle.dir.join("templates"), &case.header.templates);
    write_named_files(&oracle.dir.join("files"), &case.header.files);
    let play = play_from_task_file(&case.name, &format!("become: true\n{}", case.task_text));

    let not_compared: Vec<&str> = case
        .header
        .difference
        .iter()
        .flat_map(|d| d.not_compared.iter().map(String::as_str))
        .collect();
    let mut report = String::new();
    let inventory = ours.inventory.to_str().unwrap().to_string();
    for run in RUNS {
        let run_started = Instant::now();
        let check = run == "check";
        let mut args = vec!["--hosts", &inventory, "--json", "--become"];
        let mut ansible_args = vec![];
        if check {
            args.push("--check");
            ansible_args.push("--check");
        }
        let ((a_run, a_results), p_run) = tokio::join!(
            ansible_playbook_results(&oracle.dir, &oracle.inventory, &play, &ansible_args),
            run_role(&ours.dir, &case.name, &tasks_dir, &args)
        );
        timing.push_str(&format!(" {:.1}s", run_started.elapsed().as_secs_f64()));
        let ansible = Outcome {
            exit: exit_class(a_run.status),
            rows: a_results.as_deref().map(ansible_rows).unwrap_or_default(),
            output: format!("{}{}", a_run.stdout, a_run.stderr),
        };
        let provision = Outcome {
            exit: exit_class(p_run.status),
            rows: serde_json::from_str(&p_run.stdout)
                .map(|j| provision_rows(&j))
                .unwrap_or_default(),
            output: format!("{}{}", p_run.stdout, p_run.stderr),
        };

        let mut found: Vec<(&str, String)> = Vec::new();
        if ansible.exit != provision.exit {
            found.push((
                "exit",
                format!(
                    "exit class differs: ansible-playbook {}, provision {}\n",
                    ansible.exit, provision.exit
                ),
            ));
        }
        let statuses = diff_lists(
            "per-task statuses",
            &row_lines(&ansible.rows),
            &row_lines(&provision.rows),
        );
        if !statuses.is_empty() {
            let mut text = statuses;
            text.push_str(&format!(
                "  ansible-playbook's messages:\n{}  provision's messages:\n{}",
                messages(&ansible.rows),
                messages(&provision.rows)
            ));
            if a_results.is_none() {
                text.push_str(&format!(
                    "  ansible-playbook reported no results:\n{}\n",
                    ansible.output
                ));
            }
            if provision.rows.is_empty() {
                text.push_str(&format!("  provision's output:\n{}\n", provision.output));
            }
            found.push(("status", text));
        }
        let (a_state, p_state) = tokio::join!(
            end_state(&oracle.host, &case.header.compare),
            end_state(&ours.host, &case.header.compare)
        );
        let state = diff_lists("end states", &a_state, &p_state);
        if !state.is_empty() {
            found.push(("state", state));
        }

        for aspect in ASPECTS {
            let key = format!("{run}.{aspect}");
            let difference = found.iter().find(|(a, _)| *a == aspect);
            match (not_compared.contains(&key.as_str()), difference) {
                (false, Some((_, text))) => {
                    report.push_str(&format!("  {run} run: {text}"));
                }
                (true, None) => report.push_str(&format!(
                    "  {run} run: the case declares `{key}` a deliberate difference, but ansible-playbook and provision agree there: remove it from difference.not_compared\n"
                )),
                _ => {}
            }
        }
        if !report.is_empty() && provision.rows.is_empty() && a_results.is_none() {
            break;
        }
    }
    let result = if report.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "tests/ansible_cases/{}.yml differs from ansible-core:\n{report}",
            case.id
        ))
    };
    (result, timing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provision_does_what_ansible_core_does() {
    // Fail loudly, before any host starts, when the oracle or Docker is missing.
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-ansible/bin/ansible-playbook");
    assert!(
        venv.exists(),
        "{} is missing: run `bash integration/ansible/setup.sh`",
        venv.display()
    );
    image();

    let files = case_files();
    assert!(!files.is_empty(), "no case files in tests/ansible_cases");
    let mut failures = Vec::new();
    let mut cases = Vec::new();
    for (id, path) in &files {
        match load_case(id, path) {
            Ok(c) => cases.push(c),
            Err(e) => failures.push(e),
        }
    }
    let total = files.len();
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CASES));
    let mut handles = Vec::new();
    for case in cases {
        let limit = limit.clone();
        let id = case.id.clone();
        handles.push((
            id.clone(),
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                let t = Instant::now();
                let (result, timing) = run_case(case).await;
                let verdict = if result.is_ok() { "same" } else { "DIFFERS" };
                eprintln!(
                    "case {id}: {verdict} ({:.1}s: {timing})",
                    t.elapsed().as_secs_f64()
                );
                result
            }),
        ));
    }
    for (id, handle) in handles {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(report)) => failures.push(report),
            Err(e) => failures.push(format!(
                "tests/ansible_cases/{id}.yml: the harness panicked: {e}"
            )),
        }
    }
    eprintln!(
        "{} of {total} cases as ansible-core does, in {:.1}s",
        total - failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from ansible-core:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
