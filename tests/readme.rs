//! The README's first run, taken from the README itself and run as a newcomer would: in a fresh
//! copy of the repository (the files git tracks, or would track, and nothing else), with a fresh
//! home folder, on the Docker cloud. Any README edit that breaks the first run, or that claims
//! output the tool does not print, fails here.
//!
//! The README marks the transcript with `<!-- readme-test: first-run -->` before its code block.
//! In it, `$ ` lines are commands and the lines after them are their output; `…` stands for any
//! number of lines, and run times such as `(1.25s)` or `# 9.8 s` comments are not compared.
//! `cargo build --release` is checked to be there but not run: the test runs the binary cargo
//! built for it in place of `./target/release/provision`.

mod common;

use std::path::{Path, PathBuf};

const MARK: &str = "<!-- readme-test: first-run -->";

struct Step {
    command: String,
    expected: Vec<String>,
}

fn transcript(readme: &str) -> Vec<Step> {
    let start = readme
        .find(MARK)
        .unwrap_or_else(|| panic!("README.md has no `{MARK}` transcript"));
    let after = &readme[start + MARK.len()..];
    let open = after.find("```").expect("a code block follows the mark");
    let body = &after[open..];
    let body = &body[body.find('\n').expect("fence line ends") + 1..];
    let body = &body[..body.find("```").expect("the code block is closed")];
    let mut steps: Vec<Step> = Vec::new();
    for line in body.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            let command = command.split("  #").next().unwrap_or(command).trim();
            steps.push(Step {
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        } else {
            panic!("the transcript must start with a `$ ` command, not `{line}`");
        }
    }
    steps
}

/// Run times differ from run to run: `(1.25s)` becomes `(…s)`.
fn without_times(line: &str) -> String {
    let re = regex::Regex::new(r"\(\d+\.\d+s\)").expect("valid pattern");
    re.replace_all(line.trim_end(), "(…s)").into_owned()
}

/// The expected lines, split at `…`, must appear in order as unbroken runs of the actual
/// lines; the first run at the start unless `…` comes first, the last at the end unless `…`
/// comes last.
fn matches(expected: &[String], actual: &[String]) -> Result<(), String> {
    let expected: Vec<String> = expected.iter().map(|l| without_times(l)).collect();
    let actual: Vec<String> = actual.iter().map(|l| without_times(l)).collect();
    let segments: Vec<&[String]> = expected.split(|l| l == "…").collect();
    let mut at = 0;
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            continue;
        }
        let anchored_start = i == 0;
        let anchored_end = i == segments.len() - 1;
        let found = (at..=actual.len().saturating_sub(segment.len()))
            .filter(|&p| !anchored_start || p == 0)
            .filter(|&p| !anchored_end || p + segment.len() == actual.len())
            .find(|&p| actual[p..p + segment.len()] == **segment);
        match found {
            Some(p) => at = p + segment.len(),
            None => {
                return Err(format!(
                    "these README lines are not in the output (after line {at}):\n{}",
                    segment.join("\n")
                ));
            }
        }
    }
    Ok(())
}

/// The repository as a fresh clone has it, with the working tree's changes: what git tracks
/// plus what it would track (not ignored).
fn fresh_copy(into: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = PathBuf::from(String::from_utf8_lossy(name).into_owned());
        let from = root.join(&name);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = into.join(&name);
        std::fs::create_dir_all(to.parent().expect("a file has a folder")).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", name.display()));
    }
}

fn run(dir: &Path, home: &Path, command: &str) -> (i32, Vec<String>) {
    let binary = env!("CARGO_BIN_EXE_provision");
    let command = match command.strip_prefix("provision ") {
        Some(rest) => format!("{binary} {rest}"),
        None => command.replace("./target/release/provision", binary),
    };
    let out = std::process::Command::new("sh")
        .args(["-c", &command])
        .current_dir(dir)
        .env("HOME", home)
        .env_remove("PROVISION_KNOWN_HOSTS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        text.lines().map(String::from).collect(),
    )
}

#[test]
fn readme_transcripts_are_checked_line_by_line() {
    let ok = |e: &[&str], a: &[&str]| {
        let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        matches(&e, &a)
    };
    assert!(ok(&["a", "…", "c (1.00s)"], &["a", "b", "b", "c (2.50s)"]).is_ok());
    assert!(
        ok(&["a", "c"], &["a", "b", "c"]).is_err(),
        "runs are unbroken"
    );
    assert!(ok(&["b"], &["a", "b"]).is_err(), "anchored at the start");
    assert!(ok(&["…", "a"], &["a", "b"]).is_err(), "anchored at the end");
    assert!(ok(&["…", "b", "…"], &["a", "b", "c"]).is_ok());
}

#[tokio::test]
async fn the_readme_first_run_works_from_a_fresh_clone() {
    common::image();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let steps = transcript(&readme);
    assert_eq!(
        steps.first().map(|s| s.command.as_str()),
        Some("cargo build --release"),
        "the first run starts by building"
    );
    // The first run's containers belong to the project `local`; they go when the test ends.
    let project = common::DockerProject("local".into());
    drop(common::DockerProject("local".into()));
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("provision");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    fresh_copy(&clone);
    for step in &steps[1..] {
        let (status, output) = run(&clone, &home, &step.command);
        assert_eq!(
            status,
            0,
            "`{}` failed:\n{}",
            step.command,
            output.join("\n")
        );
        if let Err(e) = matches(&step.expected, &output) {
            panic!(
                "`{}`: {e}\n--- output ---\n{}",
                step.command,
                output.join("\n")
            );
        }
    }
    assert!(
        project.containers().is_empty(),
        "the transcript ends with nothing left running: {:?}",
        project.containers()
    );
    // What the first run wrote in the working tree is what .gitignore ignores.
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&clone)
        .status()
        .expect("git runs");
    assert!(init.success());
    for written in ["inventory", ".provision/docker-key"] {
        assert!(clone.join(written).exists(), "{written} was written");
    }
    let ignored = std::process::Command::new("git")
        .args([
            "check-ignore",
            "--no-index",
            "inventory",
            ".provision/docker-key",
            "secrets.json",
        ])
        .current_dir(&clone)
        .output()
        .expect("git runs");
    let ignored = String::from_utf8_lossy(&ignored.stdout);
    assert_eq!(
        ignored.lines().collect::<Vec<_>>(),
        ["inventory", ".provision/docker-key", "secrets.json"],
        "what a run writes is git-ignored"
    );
}
