//! pip into a virtualenv from a local package index served to the host (the test hosts cannot
//! reach PyPI): created once, left alone while the requirements are met, upgraded when they change.

mod common;
use common::*;

const ROLE: &str = r#"
- name: app folder
  file: {path: /opt/app, state: directory}
  become: true
- name: requirements
  copy: {dest: /opt/app/requirements.txt, content: "provision-app=={{ app_version }}\n"}
  become: true
- name: virtualenv with the requirements
  pip:
    requirements: /opt/app/requirements.txt
    virtualenv: /opt/app/venv
    index_url: "http://{{ index_host }}/simple/"
    extra_args: "--trusted-host {{ index_host }}"
  become: true
- name: a range pip has to judge
  pip:
    packages: ["provision-greeting>=1.0"]
    virtualenv: /opt/app/venv
    index_url: "http://{{ index_host }}/simple/"
    extra_args: "--trusted-host {{ index_host }}"
  become: true
"#;

#[tokio::test]
async fn virtualenv_created_once_then_upgraded_only_when_requirements_change() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    build_package_index(
        &index,
        &[
            ("provision-greeting", "1.0", &[]),
            ("provision-app", "1.0", &["provision-greeting>=1.0"]),
            ("provision-app", "2.0", &["provision-greeting>=1.0"]),
        ],
    );
    let (_server, index_ip) = start_web_server(&index).await;
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("y1", &key).await;
    write_inventory(
        dir.path(),
        "app",
        &[&host],
        &key,
        &format!("index_host={index_ip}\n"),
    );
    let tasks = write_role(dir.path(), "app", ROLE, &[]);
    let version =
        "/opt/app/venv/bin/python -c 'import provision_app; print(provision_app.VERSION)'";

    let check = run_role(
        dir.path(),
        "app",
        &tasks,
        &["-e", "app_version=1.0", "--check"],
    )
    .await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert_eq!(host.sh("ls /opt").await, "", "check mode created nothing");

    let first = run_role(dir.path(), "app", &tasks, &["-e", "app_version=1.0"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("y1 : ok=1 changed=3"),
        "the range was already met: {}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("created /opt/app/venv and installed into it"),
        "{}",
        first.stdout
    );
    assert_eq!(host.sh(version).await, "1.0\n");

    let second = run_role(dir.path(), "app", &tasks, &["-e", "app_version=1.0", "-v"]).await;
    assert!(
        second.stdout.contains("y1 : ok=4 changed=0"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("requirements met in /opt/app/venv"),
        "{}",
        second.stdout
    );

    let upgraded = run_role(dir.path(), "app", &tasks, &["-e", "app_version=2.0"]).await;
    assert!(
        upgraded.stdout.contains("y1 : ok=2 changed=2"),
        "{}",
        upgraded.stdout
    );
    assert_eq!(host.sh(version).await, "2.0\n");

    let missing = run_role(dir.path(), "app", &tasks, &["-e", "app_version=9.9"]).await;
    assert_eq!(missing.status, 2, "{}\n{}", missing.stdout, missing.stderr);
    assert!(
        missing
            .stdout
            .contains("No matching distribution found for provision-app==9.9"),
        "{}",
        missing.stdout
    );
    assert_eq!(
        host.sh(version).await,
        "2.0\n",
        "a failed install leaves the venv as it was"
    );
}
