//! The service module on a host that boots systemd as PID 1.

mod common;
use common::*;

const ROLE: &str = r#"
tasks:
  - name: unit file
    copy:
      dest: /etc/systemd/system/hello.service
      content: |
        [Unit]
        Description=hello {{ greeting }}
        [Service]
        ExecStart=/bin/sleep infinity
        [Install]
        WantedBy=multi-user.target
    become: true
    notify: restart hello
  - name: hello running and enabled
    service: {name: hello, state: started, enabled: true, daemon_reload: true}
    become: true
handlers:
  - name: restart hello
    service: {name: hello, state: restarted}
    become: true
"#;

#[tokio::test]
async fn unit_started_enabled_restarted_by_handler_then_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_systemd_host("s1", &key).await;
    write_inventory(dir.path(), "svc", &[&host], &key, "");
    let tasks = write_role(dir.path(), "svc", ROLE, &[]);

    let first = run_role(dir.path(), "svc", &tasks, &["-e", "greeting=world", "-v"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    // A new unit needs no daemon-reload: systemd loads it on first use.
    assert!(
        first
            .stdout
            .contains("hello running and enabled: enabled, started"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("restart hello: restarted"),
        "{}",
        first.stdout
    );
    assert_eq!(
        host.sh("systemctl is-active hello; systemctl is-enabled hello")
            .await,
        "active\nenabled\n"
    );
    let pid = host.sh("systemctl show -p MainPID --value hello").await;

    let second = run_role(dir.path(), "svc", &tasks, &["-e", "greeting=world"]).await;
    assert!(
        second.stdout.contains("s1 : ok=2 changed=0 failed=0"),
        "{}",
        second.stdout
    );
    assert_eq!(
        host.sh("systemctl show -p MainPID --value hello").await,
        pid,
        "not restarted"
    );

    let check = run_role(
        dir.path(),
        "svc",
        &tasks,
        &["-e", "greeting=there", "--check"],
    )
    .await;
    assert!(
        check.stdout.contains("would change: content differs"),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("grep -c 'hello world' /etc/systemd/system/hello.service")
            .await
            .trim(),
        "1"
    );
    assert_eq!(
        host.sh("systemctl show -p MainPID --value hello").await,
        pid,
        "check mode restarts nothing"
    );

    let changed = run_role(dir.path(), "svc", &tasks, &["-e", "greeting=there"]).await;
    assert!(
        changed
            .stdout
            .contains("hello running and enabled: daemon reloaded"),
        "{}",
        changed.stdout
    );
    assert!(
        changed.stdout.contains("s1 : ok=0 changed=3"),
        "unit, daemon-reload, handler: {}",
        changed.stdout
    );
    assert_ne!(
        host.sh("systemctl show -p MainPID --value hello").await,
        pid,
        "restarted by the handler"
    );
    assert_eq!(
        host.sh("systemctl show -p Description --value hello")
            .await
            .trim(),
        "hello there"
    );
}

#[tokio::test]
async fn a_unit_that_fails_to_start_shows_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_systemd_host("s2", &key).await;
    write_inventory(dir.path(), "svc", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "svc",
        r#"
- copy:
    dest: /etc/systemd/system/broken.service
    content: "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo boom-from-unit >&2; exit 3'\n"
  become: true
- service: {name: broken, state: started, daemon_reload: true}
  become: true
- service: {name: no-such-unit, state: started}
  become: true
"#,
        &[],
    );
    let r = run_role(dir.path(), "svc", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("journalctl -u broken (last lines):"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("boom-from-unit"),
        "the unit's own error is shown: {}",
        r.stdout
    );

    std::fs::write(
        tasks.join("svc.yml"),
        "- service: {name: no-such-unit, state: started}\n  become: true\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "svc", &tasks, &[]).await;
    assert_eq!(r.status, 2);
    assert!(
        r.stdout.contains("unit no-such-unit not found"),
        "{}",
        r.stdout
    );
}
