//! Ansible's linear ordering across hosts, compared with ansible-core on the same kind of hosts:
//! a task that reads another host (a file served from it, its registered result, what its
//! handler did) sees that host as it stands after the tasks before, never earlier; `run_once`
//! runs on the first host and its result is every host's. `strategy: free` lets hosts run on
//! their own, and the same role then sees the slow host too early: the ordering is what makes
//! the difference.

mod common;
use common::ansible::{ansible_playbook_run, play_from_task_file};
use common::*;

/// h2 is slow (`delay`): without ordering, h1 reads h2's state before h2 wrote it.
const TASKS: &str = r#"tasks:
  - name: serve /tmp/www over HTTP
    shell: "mkdir -p /tmp/www && (setsid python3 -m http.server 8000 --directory /tmp/www >/dev/null 2>&1 </dev/null &) && sleep 1"
  - name: the slow host takes its time
    command: "sleep {{ delay }}"
  - name: state written
    copy: {dest: /tmp/www/state, content: "written by {{ inventory_hostname }}\n"}
  - name: a token
    command: "echo token-{{ inventory_hostname }}"
    register: token
  - name: a registered result is defined for the tasks after it
    copy: {dest: /tmp/defined, content: "{{ 'token defined' if token is defined else 'no token' }}\n"}
    when: token is defined
  - name: the other host's state, written one task earlier there
    uri: {url: "http://{{ hostvars[peer].ip }}:8000/state", return_content: true}
    register: seen
  - name: what was seen, and the other host's registered token
    copy: {dest: /tmp/seen, content: "{{ seen.content }}{{ hostvars[peer].token.stdout }}\n"}
  - name: picked once
    command: "echo picked {{ inventory_hostname }}"
    run_once: true
    register: picked
  - name: every host has the result of the task run once
    copy: {dest: /tmp/picked, content: "{{ picked.stdout }}\n"}
  - name: settings
    copy: {dest: /tmp/settings, content: "v1\n"}
    notify: [restart, what the other host's handler did]
  - meta: flush_handlers
  - name: the other host's handler has run
    uri: {url: "http://{{ hostvars[peer].ip }}:8000/restarted", return_content: true}
    register: restarted
  - name: what the handler left
    copy: {dest: /tmp/after-flush, content: "{{ restarted.content }}"}
handlers:
  - name: restart
    shell: "sleep {{ delay }}; echo restarted {{ inventory_hostname }} > /tmp/www/restarted"
  - name: what the other host's handler did
    shell: "curl -s http://{{ hostvars[peer].ip }}:8000/restarted > /tmp/handler-saw"
"#;

struct Pair {
    hosts: Vec<Host>,
    inventory: std::path::PathBuf,
}

async fn pair(dir: &std::path::Path, key: &Key) -> Pair {
    let hosts = start_hosts("h", 2, key).await;
    let ips: Vec<String> = hosts
        .iter()
        .map(|h| container_ip(h.container.id()))
        .collect();
    let inventory = dir.join("inventory");
    std::fs::write(
        &inventory,
        format!(
            "[pair]\nh1 ansible_host=127.0.0.1 ansible_port={} ip={} peer=h2 delay=0\n\
             h2 ansible_host=127.0.0.1 ansible_port={} ip={} peer=h1 delay=3\n\
             [pair:vars]\nansible_ssh_private_key_file={}\nansible_user=ubuntu\n",
            hosts[0].port,
            ips[0],
            hosts[1].port,
            ips[1],
            key.path.display()
        ),
    )
    .unwrap();
    Pair { hosts, inventory }
}

/// What each host of TASKS saw, as `outcome` lists it, in Ansible's order.
const SEEN: [&str; 10] = [
    "h1 /tmp/defined: token defined\n",
    "h1 /tmp/seen: written by h2\ntoken-h2\n",
    "h1 /tmp/picked: picked h1\n",
    "h1 /tmp/handler-saw: restarted h2\n",
    "h1 /tmp/after-flush: restarted h2\n",
    "h2 /tmp/defined: token defined\n",
    "h2 /tmp/seen: written by h1\ntoken-h1\n",
    "h2 /tmp/picked: picked h1\n",
    "h2 /tmp/handler-saw: restarted h1\n",
    "h2 /tmp/after-flush: restarted h1\n",
];

async fn outcome(hosts: &[Host]) -> Vec<String> {
    let mut all = Vec::new();
    for h in hosts {
        for file in [
            "/tmp/defined",
            "/tmp/seen",
            "/tmp/picked",
            "/tmp/handler-saw",
            "/tmp/after-flush",
        ] {
            all.push(format!(
                "{} {file}: {}",
                h.name,
                h.sh(&format!("cat {file}")).await
            ));
        }
    }
    all
}

#[tokio::test]
async fn a_task_sees_other_hosts_as_ansible_does() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let key = keygen(ours.path(), "ed25519");
    let (mine, oracle) = tokio::join!(pair(ours.path(), &key), pair(theirs.path(), &key));

    let tasks_dir = write_role(ours.path(), "pair", TASKS, &[]);
    let run = run_role(ours.path(), "pair", &tasks_dir, &["--json"]).await;
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let ansible = ansible_playbook_run(
        theirs.path(),
        &oracle.inventory,
        &play_from_task_file("pair", TASKS),
    )
    .await;
    assert_eq!(ansible.status, 0, "{}\n{}", ansible.stdout, ansible.stderr);

    let got = outcome(&mine.hosts).await;
    assert_eq!(got, SEEN);
    assert_eq!(
        got,
        outcome(&oracle.hosts).await,
        "provision and ansible-playbook differ"
    );

    // The same recap: the task run once counts on the host that ran it only. Ansible's `ok`
    // counts changed tasks too; provision's counts the unchanged ones (README, "Differences").
    let recap = ansible.recap();
    for (host, ok, changed, failed, _) in stats(&run) {
        let (a_ok, a_changed, a_failed, _) = recap[&host];
        assert_eq!(
            (ok + changed, changed, failed),
            (a_ok, a_changed, a_failed),
            "{host}: provision ok/changed/failed vs ansible's\n{}",
            ansible.stdout
        );
    }
}

#[tokio::test]
async fn strategy_free_lets_hosts_run_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let _hosts = pair(dir.path(), &key).await;
    let tasks_dir = write_role(dir.path(), "pair", &format!("strategy: free\n{TASKS}"), &[]);
    let run = run_role(dir.path(), "pair", &tasks_dir, &[]).await;
    assert_ne!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("failed: [h1] the other host's state") && l.contains("404")),
        "h1 read h2's state before h2 wrote it:\n{}",
        run.stdout
    );
}

#[tokio::test]
async fn one_fork_for_two_hosts_keeps_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let two = pair(dir.path(), &key).await;
    let tasks_dir = write_role(dir.path(), "pair", TASKS, &[]);
    let run = run_role(dir.path(), "pair", &tasks_dir, &["--forks", "1"]).await;
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(outcome(&two.hosts).await, SEEN);
}

/// A task run once that fails stops every host, in Ansible as here.
const FAILING_ONCE: &str = r#"tasks:
  - name: fails once
    command: "false"
    run_once: true
  - name: after it
    copy: {dest: /tmp/after, content: "ran\n"}
"#;

#[tokio::test]
async fn a_failed_run_once_task_stops_every_host_as_in_ansible() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let key = keygen(ours.path(), "ed25519");
    let (mine, oracle) = tokio::join!(pair(ours.path(), &key), pair(theirs.path(), &key));
    let tasks_dir = write_role(ours.path(), "pair", FAILING_ONCE, &[]);
    let run = run_role(ours.path(), "pair", &tasks_dir, &[]).await;
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("failed: [h2] fails once: run_once: failed on h1: command `false` failed with exit status 1"),
        "{}",
        run.stdout
    );
    let ansible = ansible_playbook_run(
        theirs.path(),
        &oracle.inventory,
        &play_from_task_file("pair", FAILING_ONCE),
    )
    .await;
    assert_ne!(ansible.status, 0, "{}", ansible.stdout);
    for h in mine.hosts.iter().chain(&oracle.hosts) {
        assert_eq!(
            h.sh("test -e /tmp/after && echo ran || echo absent").await,
            "absent\n",
            "{} ran the task after (provision's hosts first, then ansible's)",
            h.name
        );
    }
}
