//! The lineinfile, user and group modules on real Debian hosts: first run changes, second run
//! changes nothing, --check changes nothing, and a realistic failure explains itself.

mod common;
use common::*;

const ROLE: &str = r#"
- name: service group
  group: {name: harvester, system: true}
  become: true
- name: service user
  user: {name: harvester, system: true, group: harvester, home: /opt/harvester, shell: /usr/sbin/nologin}
  become: true
- name: listen port
  lineinfile: {path: /etc/harvester.conf, line: "port=9100", regexp: "^port=", create: true}
  become: true
- name: mode line
  lineinfile: {path: /etc/harvester.conf, line: "mode=stream", create: true}
  become: true
- name: no debug line
  lineinfile: {path: /etc/harvester.conf, regexp: "^debug=", state: absent}
  become: true
"#;

#[tokio::test]
async fn accounts_and_lines_converge_then_stay() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let hosts = start_hosts("m", 2, &key).await;
    write_inventory(dir.path(), "app", &[&hosts[0], &hosts[1]], &key, "");
    let tasks = write_role(dir.path(), "app", ROLE, &[]);
    // One host already has an older config with a port and a debug line.
    hosts[1]
        .sh("printf 'port=1\\ndebug=1\\nkeep=me\\n' > /etc/harvester.conf")
        .await;

    let check = run_role(dir.path(), "app", &tasks, &["--check", "--json"]).await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert_eq!(
        hosts[0]
            .sh("getent passwd harvester; ls /etc/harvester.conf 2>&1")
            .await
            .trim(),
        "ls: cannot access '/etc/harvester.conf': No such file or directory"
    );

    let first = run_role(dir.path(), "app", &tasks, &["--json"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    let s = stats(&first);
    assert_eq!(
        (s[0].2, s[0].3),
        (4, 0),
        "fresh host: group, user, two lines; nothing to remove: {}",
        first.stdout
    );
    assert_eq!(
        (s[1].2, s[1].3),
        (5, 0),
        "old config: port replaced, debug removed: {}",
        first.stdout
    );
    for h in &hosts {
        assert_eq!(
            h.sh("getent passwd harvester | cut -d: -f6,7; id -gn harvester")
                .await,
            "/opt/harvester:/usr/sbin/nologin\nharvester\n"
        );
        assert_eq!(
            h.sh("test -d /opt/harvester && echo home-made || echo no-home")
                .await
                .trim(),
            "home-made",
            "a system user gets its home, as Ansible makes it"
        );
    }
    assert_eq!(
        hosts[0].sh("cat /etc/harvester.conf").await,
        "port=9100\nmode=stream\n"
    );
    assert_eq!(
        hosts[1].sh("cat /etc/harvester.conf").await,
        "port=9100\nkeep=me\nmode=stream\n"
    );

    let second = run_role(dir.path(), "app", &tasks, &["--json"]).await;
    assert_eq!(second.status, 0);
    for (host, ok, changed, failed, _) in stats(&second) {
        assert_eq!(
            (ok, changed, failed),
            (5, 0, 0),
            "{host}: {}",
            second.stdout
        );
    }
}

#[tokio::test]
async fn realistic_failures_explain_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("m1", &key).await;
    write_inventory(dir.path(), "app", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "app",
        r#"
- name: line in a missing file
  lineinfile: {path: /etc/missing.conf, line: "a=1"}
  become: true
"#,
        &[],
    );
    let r = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("/etc/missing.conf does not exist (set `create: true` to create it)"),
        "{}",
        r.stdout
    );

    std::fs::write(
        tasks.join("app.yml"),
        "- name: user in a missing group\n  user: {name: svc, group: nosuchgroup}\n  become: true\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}", r.stdout);
    assert!(
        r.stdout.contains("useradd") && r.stdout.contains("nosuchgroup"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("failed with exit status 6"),
        "{}",
        r.stdout
    );
}
