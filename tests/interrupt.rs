//! SIGINT and SIGTERM during a run: the step under way finishes, no task starts after it, the
//! recap says so, and the exit status is 128 + the signal's number. A second SIGINT ends the
//! process at once.

mod common;
use common::*;
use std::time::{Duration, Instant};

const ROLE: &str = "\
- name: slow step
  shell: sleep 3; touch /tmp/first
- name: after it
  copy: {dest: /tmp/second, content: x}
";

async fn interrupted_run(signals: &[&str]) -> (Run, Duration, Host) {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("h1", &key).await;
    write_inventory(dir.path(), "web", &[&host], &key, "");
    let tasks = write_role(dir.path(), "web", ROLE, &[]);
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["run", "web", "--tasks-dir", tasks.to_str().unwrap()])
        .current_dir(dir.path())
        .env("PROVISION_KNOWN_HOSTS", dir.path().join("known_hosts"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().expect("running").to_string();
    // The slow step is under way once the host has its shell.
    let started = Instant::now();
    while !host
        .sh("pgrep -x sleep || true")
        .await
        .contains(char::is_numeric)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the slow step never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signalled = Instant::now();
    for signal in signals {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().await.unwrap();
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, signalled.elapsed(), host)
}

#[tokio::test]
async fn sigint_lets_the_step_under_way_finish_and_starts_nothing_after_it() {
    let (run, _, host) = interrupted_run(&["INT"]).await;
    assert_eq!(run.status, 130, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("RECAP (interrupted by SIGINT: no task was started after it)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("h1 : ok=0 changed=1 failed=0") && run.stdout.contains("interrupted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("SIGINT: finishing the steps under way"),
        "{}",
        run.stderr
    );
    assert_eq!(
        host.sh("ls /tmp/first /tmp/second 2>&1 || true")
            .await
            .lines()
            .count(),
        2
    );
    assert!(
        host.sh("test -e /tmp/first && echo yes")
            .await
            .contains("yes")
    );
    assert!(
        !host
            .sh("test -e /tmp/second && echo yes")
            .await
            .contains("yes")
    );
}

#[tokio::test]
async fn sigterm_exits_143() {
    let (run, _, host) = interrupted_run(&["TERM"]).await;
    assert_eq!(run.status, 143, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("interrupted by SIGTERM"),
        "{}",
        run.stdout
    );
    assert!(
        !host
            .sh("test -e /tmp/second && echo yes")
            .await
            .contains("yes")
    );
}

#[tokio::test]
async fn a_second_sigint_stops_at_once() {
    let (run, waited, host) = interrupted_run(&["INT", "INT"]).await;
    assert_eq!(run.status, 130, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("SIGINT: stopping at once"),
        "{}",
        run.stderr
    );
    assert!(
        waited < Duration::from_millis(2500),
        "did not wait for the 3 s step: {waited:?}"
    );
    assert!(!run.stdout.contains("RECAP"), "{}", run.stdout);
    assert!(
        !host
            .sh("test -e /tmp/second && echo yes")
            .await
            .contains("yes")
    );
}
