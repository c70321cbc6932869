//! apt with a signed source of our own (served to the hosts from a container), a local .deb,
//! debconf answers, and the dpkg lock held by another process.

mod common;
use common::*;

const ROLE: &str = r#"
- name: preseed the greeting
  debconf: {name: provision-hello, question: provision-hello/greeting, vtype: string, value: "{{ greeting }}"}
  become: true
- name: preseed the secret
  debconf: {name: provision-hello, question: provision-hello/secret, vtype: password, value: "{{ secret }}"}
  become: true
- name: the test source and its package
  apt:
    repo: "deb http://{{ repo_host }}/ stable main"
    key_url: "http://{{ repo_host }}/{{ key }}"
    filename: provision-test
    packages: [provision-hello]
  become: true
- name: a local package file
  apt: {deb: /tmp/provision-local_2.0_all.deb}
  become: true
"#;

#[tokio::test]
async fn signed_source_local_deb_and_debconf_then_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let packages = [
        package_dir(
            dir.path(),
            "provision-hello",
            "1.0",
            &[(
                "/usr/share/provision-hello/greeting",
                "hello from the local repository\n",
            )],
        ),
        package_dir(
            dir.path(),
            "provision-local",
            "2.0",
            &[("/usr/share/provision-local/version", "2.0\n")],
        ),
    ];
    build_apt_repository(&repo, &packages);
    let (_server, server_ip) = start_web_server(&repo).await;
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("p1", &key).await;
    host.sh(&format!("curl -fsS -o /tmp/provision-local_2.0_all.deb http://{server_ip}/pool/provision-local_2.0_all.deb")).await;
    let vars = format!("repo_host={server_ip}\ngreeting=hi\nkey=key.asc\n");
    write_inventory(dir.path(), "pkg", &[&host], &key, &vars);
    let tasks = write_role(dir.path(), "pkg", ROLE, &[]);
    let secret = ["-e", "secret=Pa55-w0rd"];

    let check = run_role(
        dir.path(),
        "pkg",
        &tasks,
        &[&secret[..], &["--check"]].concat(),
    )
    .await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("p1 : ok=0 changed=4"),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("ls -A /etc/apt/sources.list.d/ /etc/apt/keyrings | grep -c provision")
            .await,
        "0\n",
        "check mode wrote nothing"
    );

    let first = run_role(dir.path(), "pkg", &tasks, &[&secret[..], &["-v"]].concat()).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("p1 : ok=0 changed=4"),
        "{}",
        first.stdout
    );
    assert_eq!(
        host.sh("cat /usr/share/provision-hello/greeting").await,
        "hello from the local repository\n"
    );
    assert_eq!(
        host.sh("cat /usr/share/provision-local/version").await,
        "2.0\n"
    );
    assert_eq!(
        host.sh("cat /etc/apt/sources.list.d/provision-test.list")
            .await,
        format!(
            "deb [signed-by=/etc/apt/keyrings/provision-test.asc] http://{server_ip}/ stable main\n"
        )
    );
    assert_eq!(
        host.sh("echo GET provision-hello/greeting | debconf-communicate provision-hello; echo GET provision-hello/secret | debconf-communicate provision-hello").await,
        "0 hi\n0 Pa55-w0rd\n"
    );
    assert!(
        first
            .stdout
            .contains("set provision-hello/secret to (hidden)"),
        "{}",
        first.stdout
    );

    let second = run_role(dir.path(), "pkg", &tasks, &[&secret[..], &["-v"]].concat()).await;
    assert_eq!(second.status, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("p1 : ok=4 changed=0"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("provision-local 2.0 installed"),
        "{}",
        second.stdout
    );
    for run in [&check, &first, &second] {
        assert!(!run.stdout.contains("Pa55-w0rd") && !run.stderr.contains("Pa55-w0rd"));
    }

    // Another process holds the dpkg lock for a few seconds: apt waits, and says who holds it.
    host.sh("nohup python3 -c 'import fcntl, time; f = open(\"/var/lib/dpkg/lock-frontend\", \"w\"); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(4)' >/dev/null 2>&1 & sleep 0.5").await;
    std::fs::write(
        tasks.join("pkg.yml"),
        "- apt: {packages: provision-hello, state: absent}\n  become: true\n",
    )
    .unwrap();
    let locked = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert_eq!(locked.status, 0, "{}\n{}", locked.stdout, locked.stderr);
    assert!(
        locked.stdout.contains("the dpkg lock is held by")
            && locked
                .stdout
                .contains("python3: apt waits for it up to 600s"),
        "{}",
        locked.stdout
    );
    assert!(
        locked.stdout.contains("removed provision-hello"),
        "{}",
        locked.stdout
    );
}

#[tokio::test]
async fn a_source_signed_by_another_key_and_a_missing_deb_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    build_apt_repository(
        &repo,
        &[package_dir(dir.path(), "provision-hello", "1.0", &[])],
    );
    let (_server, server_ip) = start_web_server(&repo).await;
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("p2", &key).await;
    write_inventory(
        dir.path(),
        "pkg",
        &[&host],
        &key,
        &format!("repo_host={server_ip}\n"),
    );
    let tasks = write_role(
        dir.path(),
        "pkg",
        "- apt:\n    repo: 'deb http://{{ repo_host }}/ stable main'\n    key_url: 'http://{{ repo_host }}/other-key.asc'\n  become: true\n",
        &[],
    );
    let r = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("NO_PUBKEY") || r.stdout.contains("is not signed"),
        "{}",
        r.stdout
    );

    // debconf without become: said before anything is attempted.
    std::fs::write(
        tasks.join("pkg.yml"),
        "- debconf: {name: couchdb, question: couchdb/mode, vtype: select, value: clustered}\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("debconf reads and writes root's debconf database: add `become: true`"),
        "{}",
        r.stdout
    );

    std::fs::write(
        tasks.join("pkg.yml"),
        "- apt: {deb: /tmp/nope.deb}\n  become: true\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("deb file /tmp/nope.deb does not exist on the host"),
        "{}",
        r.stdout
    );
}
