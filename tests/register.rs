//! `register`, `when` over registered results, `changed_when` / `failed_when` expressions, and
//! facts gathered only when a task refers to one.

mod common;
use common::*;

const ROLE: &str = r#"
- name: read the hostname
  command: cat /etc/hostname
  register: hn
  changed_when: false
- name: write what was read and what facts say
  copy:
    dest: /tmp/seen
    content: "{{ hn.stdout }} {{ ansible_distribution }} {{ ansible_distribution_release }} {{ ansible_default_ipv4.address }} {{ ansible_facts.architecture }}\n"
  register: written
- name: only right after the file was written
  command: touch /tmp/was-new
  when: written.changed
- name: an exit status of 3 is expected
  shell: echo three; exit 3
  register: three
  failed_when: three.rc not in [0, 3]
  changed_when: false
- name: record the status
  copy: {dest: /tmp/rc, content: "{{ three.rc }} {{ three.stdout }}\n"}
  when: three.rc == 3
- name: never, by a registered result
  command: touch /tmp/never
  when: hn.stdout == 'no such host'
"#;

#[tokio::test]
async fn registered_results_drive_later_tasks_and_facts_are_gathered_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("r1", &key).await;
    write_inventory(dir.path(), "reg", &[&host], &key, "");
    let tasks = write_role(dir.path(), "reg", ROLE, &[]);

    // Check mode first: the command is not run, so what depends on it is skipped, not failed.
    let check = run_role(dir.path(), "reg", &tasks, &["--check"]).await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("check mode: needs a result"),
        "{}",
        check.stdout
    );
    assert_eq!(host.sh("ls /tmp/seen /tmp/rc 2>&1 | wc -l").await, "2\n");
    assert!(host.sh("ls /tmp").await.trim().is_empty());

    let first = run_role(dir.path(), "reg", &tasks, &["-v"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        first.stdout.matches("facts: [r1] gathered").count(),
        1,
        "{}",
        first.stdout
    );
    let expected = host
        .sh(". /etc/os-release; echo \"$(cat /etc/hostname) Debian $VERSION_CODENAME $(hostname -i | cut -d' ' -f1) $(uname -m)\"")
        .await;
    assert_eq!(host.sh("cat /tmp/seen").await, expected);
    assert_eq!(host.sh("cat /tmp/rc").await, "3 three\n");
    assert_eq!(
        host.sh("ls /tmp/was-new /tmp/never 2>/dev/null").await,
        "/tmp/was-new\n"
    );
    assert!(
        first.stdout.contains("changed=3"),
        "two files and the touch:\n{}",
        first.stdout
    );

    let second = run_role(dir.path(), "reg", &tasks, &["--json"]).await;
    assert_eq!(second.status, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(
        stats(&second)[0].2,
        0,
        "second run changes nothing: {}",
        second.stdout
    );
    let statuses: Vec<String> = second.json()["hosts"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "skipped", "ok", "ok", "skipped"]);
}

#[tokio::test]
async fn failed_when_fails_the_host_and_no_facts_are_gathered_when_unused() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("r2", &key).await;
    write_inventory(dir.path(), "reg", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "reg",
        "- name: look for an error\n  shell: \"echo 'ERROR: disk full'\"\n  register: out\n  failed_when: \"'ERROR' in out.stdout\"\n- name: not reached\n  command: touch /tmp/after\n",
        &[],
    );
    let r = run_role(dir.path(), "reg", &tasks, &["-v"]).await;
    assert_eq!(r.status, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("failed_when holds: `'ERROR' in out.stdout`"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("gathered"), "{}", r.stdout);
    assert_eq!(host.sh("ls /tmp").await, "");
}

#[tokio::test]
async fn loops_over_lists_and_registered_results() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("r3", &key).await;
    write_inventory(dir.path(), "reg", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "reg",
        r#"
- name: directories
  file: {path: "/tmp/{{ item }}", state: directory}
  loop: [a, b, "{{ third }}"]
- name: list them
  shell: "find /tmp -mindepth 1 -maxdepth 1 -type d -printf '%f\\n' | sort"
  register: listing
  changed_when: false
- name: one file per directory found
  copy: {dest: "/tmp/{{ item }}/seen", content: "{{ item }}\n"}
  loop: "{{ listing.stdout_lines }}"
  register: seen
- name: summary
  copy: {dest: /tmp/summary, content: "{{ seen.results | map(attribute='item') | join(',') }} {{ seen.changed }}\n"}
- name: nothing to loop over
  command: touch /tmp/never
  loop: []
"#,
        &[],
    );
    let first = run_role(dir.path(), "reg", &tasks, &["-e", "third=c"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("directories (item=c): create directory"),
        "{}",
        first.stdout
    );
    assert_eq!(
        host.sh("cat /tmp/a/seen /tmp/c/seen /tmp/summary").await,
        "a\nc\na,b,c True\n"
    );
    assert!(
        first
            .stdout
            .contains("r3 : ok=1 changed=7 failed=0 unreachable=0 skipped=1"),
        "{}",
        first.stdout
    );

    let second = run_role(dir.path(), "reg", &tasks, &["-e", "third=c"]).await;
    assert!(
        second.stdout.contains("r3 : ok=7 changed=1"),
        "the summary says the loop changed nothing now: {}",
        second.stdout
    );
    assert_eq!(host.sh("cat /tmp/summary").await, "a,b,c False\n");
    let third = run_role(dir.path(), "reg", &tasks, &["-e", "third=c"]).await;
    assert!(
        third.stdout.contains("r3 : ok=8 changed=0"),
        "{}",
        third.stdout
    );
}

#[tokio::test]
async fn flush_handlers_runs_notified_handlers_at_that_point() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("r4", &key).await;
    write_inventory(dir.path(), "reg", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "reg",
        r#"
tasks:
  - name: settings
    copy: {dest: /tmp/settings, content: "{{ v }}\n"}
    notify: apply
  - meta: flush_handlers
  - name: sees what the handler did
    shell: cat /tmp/applied >> /tmp/seen
handlers:
  - name: apply
    shell: cp /tmp/settings /tmp/applied
"#,
        &[],
    );
    let first = run_role(dir.path(), "reg", &tasks, &["-e", "v=one"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        host.sh("cat /tmp/seen").await,
        "one\n",
        "the handler ran before the task after the flush"
    );
    assert_eq!(
        first.stdout.matches("apply: ran").count(),
        1,
        "and not again at the end: {}",
        first.stdout
    );
    let second = run_role(dir.path(), "reg", &tasks, &["-e", "v=one"]).await;
    assert!(
        !second.stdout.contains("apply: ran"),
        "nothing notified: {}",
        second.stdout
    );
}
