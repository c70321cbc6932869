//! `provision run` against real OpenSSH servers in containers.

mod common;
use common::*;

const ROLE: &str = r#"
tasks:
  - name: app directory
    file: {path: /srv/app, state: directory, mode: '0755'}
    become: true
  - name: app config
    template: {src: app.conf.j2, dest: /srv/app/app.conf, mode: '0640', owner: root, group: ubuntu}
    become: true
    notify: reload app
  - name: motd
    copy: {dest: /srv/app/motd, content: "hello {{ inventory_hostname }}\n"}
    become: true
  - name: seed data once
    shell: {cmd: "echo seeded > /tmp/seeded", creates: /tmp/seeded}
  - name: current release
    file: {path: /tmp/current, state: link, src: /srv/app}
  - name: read-only probe
    command: cat /etc/hostname
    changed_when: false
handlers:
  - name: reload app
    shell: date +%s%N >> /tmp/reloads
"#;

const TEMPLATE: &str = "name={{ app_name }}\nhost={{ inventory_hostname }}\nport={{ app_port }}\n";

fn role(dir: &std::path::Path) -> std::path::PathBuf {
    write_role(dir, "web", ROLE, &[("app.conf.j2", TEMPLATE)])
}

#[tokio::test]
async fn role_on_three_hosts_then_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let hosts = start_hosts("web", 3, &key).await;
    let refs: Vec<&Host> = hosts.iter().collect();
    write_inventory(dir.path(), "web", &refs, &key, "app_name=shop\n");
    let tasks = role(dir.path());

    let first = run_role(
        dir.path(),
        "web",
        &tasks,
        &["-e", "app_port=8080", "--json"],
    )
    .await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    for (host, _ok, changed, failed, unreachable) in stats(&first) {
        // 5 changing tasks plus the handler; the probe reports ok (changed_when: false).
        assert_eq!((changed, failed, unreachable), (6, 0, 0), "{host}");
    }
    for h in &hosts {
        assert_eq!(
            h.sh("cat /srv/app/app.conf").await,
            format!("name=shop\nhost={}\nport=8080\n", h.name)
        );
        assert_eq!(
            h.sh("stat -c '%a %U %G' /srv/app/app.conf").await.trim(),
            "640 root ubuntu"
        );
        assert_eq!(h.sh("readlink /tmp/current").await.trim(), "/srv/app");
        assert_eq!(h.sh("wc -l < /tmp/reloads").await.trim(), "1");
    }

    let second = run_role(dir.path(), "web", &tasks, &["-e", "app_port=8080"]).await;
    assert_eq!(second.status, 0, "{}\n{}", second.stdout, second.stderr);
    for h in &hosts {
        let line = second
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", h.name)))
            .unwrap_or_else(|| panic!("recap line for {}:\n{}", h.name, second.stdout));
        assert!(
            line.contains("ok=6 changed=0 failed=0 unreachable=0"),
            "{line}"
        );
        // The handler was not notified again.
        assert_eq!(h.sh("wc -l < /tmp/reloads").await.trim(), "1");
    }

    // Warm, each host makes two round trips: the looks of all tasks, and the probe command
    // that runs every time. Meeting the other hosts at the command adds none.
    let warm = run_role(
        dir.path(),
        "web",
        &tasks,
        &["-e", "app_port=8080", "--json"],
    )
    .await;
    assert_eq!(warm.status, 0, "{}", warm.stderr);
    for host in warm.json()["hosts"].as_array().unwrap() {
        assert_eq!(host["stats"]["changed"], 0, "{host}");
        assert_eq!(host["round_trips"], 2, "{host}");
    }

    // A changed variable changes the file, and only that, and notifies the handler.
    let third = run_role(
        dir.path(),
        "web",
        &tasks,
        &["-e", "app_port=9090", "--limit", "web2", "--json"],
    )
    .await;
    assert_eq!(third.status, 0, "{}", third.stderr);
    let s = stats(&third);
    assert_eq!(s.len(), 1, "--limit selects one host");
    assert_eq!(s[0].2, 2, "template and handler changed: {}", third.stdout);
    assert_eq!(hosts[1].sh("wc -l < /tmp/reloads").await.trim(), "2");
}

#[tokio::test]
async fn check_mode_changes_nothing_and_diff_shows_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("web1", &key).await;
    write_inventory(
        dir.path(),
        "web",
        &[&host],
        &key,
        "app_name=shop\napp_port=1\n",
    );
    // Connect through the legacy names (ansible_ssh_host/ansible_ssh_port) as Ansible still does.
    let path = dir.path().join("inventory");
    let legacy = std::fs::read_to_string(&path)
        .unwrap()
        .replace("ansible_host=", "ansible_ssh_host=")
        .replace("ansible_port=", "ansible_ssh_port=");
    assert!(legacy.contains("ansible_ssh_port="));
    std::fs::write(&path, legacy).unwrap();
    let tasks = role(dir.path());

    let check = run_role(dir.path(), "web", &tasks, &["--check", "--diff"]).await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("would change: create directory"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("+name=shop"),
        "diff of the template:\n{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("check mode: would run"),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("ls /srv/app /tmp/seeded /tmp/current /tmp/reloads 2>&1 | grep -c 'No such file'")
            .await
            .trim(),
        "4"
    );
}

#[tokio::test]
async fn stopped_host_is_unreachable_while_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let hosts = start_hosts("web", 2, &key).await;
    write_inventory(
        dir.path(),
        "web",
        &[&hosts[0], &hosts[1]],
        &key,
        "app_name=a\napp_port=1\n",
    );
    let tasks = role(dir.path());
    hosts[1].container.stop().await.expect("container stops");

    let run = run_role(
        dir.path(),
        "web",
        &tasks,
        &["--connect-retries", "1", "--json"],
    )
    .await;
    assert_eq!(
        run.status, 4,
        "exit status 4 means unreachable: {}",
        run.stderr
    );
    let s = stats(&run);
    assert_eq!(s[0], ("web1".to_string(), 1, 6, 0, 0));
    assert_eq!(s[1].4, 1, "web2 unreachable");
    let reason = run.json()["hosts"][1]["unreachable"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("cannot connect") && reason.contains("after 2 attempts"),
        "{reason}"
    );
}

#[tokio::test]
async fn changed_host_key_is_refused_with_both_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("web1", &key).await;
    write_inventory(
        dir.path(),
        "web",
        &[&host],
        &key,
        "app_name=a\napp_port=1\n",
    );
    let tasks = role(dir.path());

    let first = run_role(dir.path(), "web", &tasks, &[]).await;
    assert_eq!(first.status, 0, "{}", first.stderr);
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert!(
        known.starts_with(&format!("[127.0.0.1]:{} ssh-", host.port)),
        "{known}"
    );
    let old_fp = host
        .sh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2")
        .await;

    host.sh("rm /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null; kill -HUP 1")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let new_fp = host
        .sh("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2")
        .await;
    assert_ne!(old_fp, new_fp);

    let second = run_role(dir.path(), "web", &tasks, &[]).await;
    assert_eq!(second.status, 4, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("HOST KEY CHANGED for web1"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains(old_fp.trim()) && second.stdout.contains(new_fp.trim()),
        "{}",
        second.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("known_hosts")).unwrap(),
        known,
        "known_hosts untouched"
    );
}

#[tokio::test]
async fn non_root_user_escalates_with_sudo_and_rsa_pem_keys_work() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "rsa-pem");
    assert!(
        std::fs::read_to_string(&key.path)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let host = start_host("db1", &key).await;
    write_inventory(dir.path(), "db", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "db",
        r#"
- name: as the login user
  shell: id -un > /tmp/who-plain
- name: as root
  shell: id -un > /tmp/who-root
  become: true
- name: root-only file
  copy: {dest: /etc/provision-test, content: "x\n", mode: '0600'}
  become: true
- name: without become this is refused
  copy: {dest: /etc/provision-denied, content: "x\n"}
- name: never reached
  shell: touch /tmp/after-failure
"#,
        &[],
    );
    let run = run_role(dir.path(), "db", &tasks, &[]).await;
    assert_eq!(
        run.status, 2,
        "exit 2: a task failed\n{}\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(
        host.sh("cat /tmp/who-plain /tmp/who-root").await,
        "ubuntu\nroot\n"
    );
    assert_eq!(
        host.sh("stat -c '%U %a' /etc/provision-test").await.trim(),
        "root 600"
    );
    assert!(
        run.stdout.contains("db1 : ok=0 changed=3 failed=1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("failed with exit status 1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Permission denied"),
        "stderr tail shown: {}",
        run.stdout
    );
    assert_eq!(
        host.sh("ls /tmp/after-failure 2>&1 | grep -c 'No such file'")
            .await
            .trim(),
        "1",
        "the host stopped"
    );
}

/// In check mode, a task whose look fails because of a change check mode did not make (a line
/// in a file an earlier task would create) is reported skipped with the reason, not failed; the
/// same task with no earlier change fails as it would for real.
#[tokio::test]
async fn check_mode_skips_what_depends_on_changes_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("h1", &key).await;
    write_inventory(dir.path(), "web", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "web",
        "- name: config\n  copy: {dest: /tmp/app.conf, content: \"a\\n\"}\n\
         - name: a line in it\n  lineinfile: {path: /tmp/app.conf, line: b}\n",
        &[],
    );
    let check = run_role(dir.path(), "web", &tasks, &["--check", "--json"]).await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    let results = &check.json()["hosts"][0]["tasks"];
    assert_eq!(results[0]["status"], "changed");
    assert_eq!(results[1]["status"], "skipped");
    let message = results[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with("check mode: depends on changes of earlier tasks")
            && message.contains("/tmp/app.conf does not exist"),
        "{message}"
    );
    let real = run_role(dir.path(), "web", &tasks, &["--json"]).await;
    assert_eq!(stats(&real), [("h1".to_string(), 0, 2, 0, 0)]);
    assert_eq!(host.sh("cat /tmp/app.conf").await, "a\nb\n");

    let alone = write_role(
        dir.path(),
        "web",
        "- name: a line in a missing file\n  lineinfile: {path: /tmp/nothing.conf, line: b}\n",
        &[],
    );
    let failed = run_role(dir.path(), "web", &alone, &["--check"]).await;
    assert_eq!(failed.status, 2, "{}\n{}", failed.stdout, failed.stderr);
}
