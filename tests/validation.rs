//! Bad input is reported with file, line and column before any host is contacted.
//! The inventory points at a closed port: reaching it would show as `unreachable` (exit 4).

mod common;
use common::*;

fn setup(tasks: &str, template: &str, inventory: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    write_role(dir.path(), "web", tasks, &[("t.j2", template)]);
    std::fs::write(
        dir.path().join("inventory"),
        format!(
            "{inventory}\n[all:vars]\nansible_ssh_private_key_file={}\n",
            key.path.display()
        ),
    )
    .unwrap();
    dir
}

async fn run(dir: &tempfile::TempDir) -> Run {
    let tasks = dir.path().join("roles/tasks");
    run_role(dir.path(), "web", &tasks, &["--connect-retries", "0"]).await
}

const HOSTS: &str = "[web]\nh1 ansible_host=127.0.0.1 ansible_port=1";

#[tokio::test]
async fn errors_name_the_place_and_touch_no_host() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "- name: x\n  copyy: {dest: /x, content: y}\n",
            "",
            HOSTS,
            "tasks/web.yml:2:3: unknown module or task keyword `copyy`",
        ),
        (
            "- name: x\n  copy:\n    dest: /x\n    contents: y\n",
            "",
            HOSTS,
            "tasks/web.yml:4:5: unknown field `contents`",
        ),
        (
            // A wrong type names the field as well as the place.
            "- name: x\n  file:\n    path: /x\n    state: [a]\n",
            "",
            HOSTS,
            "tasks/web.yml:4:12: state: expected string scalar",
        ),
        (
            "- name: x\n  wait_for: {port: abc}\n",
            "",
            HOSTS,
            "tasks/web.yml:2:20: port: invalid u16",
        ),
        (
            "- name: x\n  copy: {dest: '/{{ nowhere }}', content: y}\n",
            "",
            HOSTS,
            "tasks/web.yml:2:",
        ),
        (
            "- name: x\n  template: {src: t.j2, dest: /t}\n",
            "a\n{{ missing_var }}\n",
            HOSTS,
            "t.j2:2: undefined variable",
        ),
        (
            "- name: x\n  file: {path: relative, state: directory}\n",
            "",
            HOSTS,
            "must be absolute",
        ),
        (
            "- name: x\n  file: {path: /x, state: directory, mode: 'rw'}\n",
            "",
            HOSTS,
            "must be octal digits",
        ),
        (
            "- name: x\n  file: {path: /x, state: dir}\n",
            "",
            HOSTS,
            "tasks/web.yml:2:27: state `dir` is not one of: file, directory, touch, absent, link",
        ),
        (
            "- command: 'true'\n",
            "",
            "[web]\nh1 ansible_host=127.0.0.1 ansible_port=1\n[web",
            "inventory:3: section header `[web` is not closed",
        ),
        (
            "- command: 'true'\n",
            "",
            "[web]\nh1 ansible_host=127.0.0.1 ansible_port=1\nport=2",
            "inventory:3: `port=2` looks like a variable",
        ),
        (
            // A registered name is known only at run time, but one nothing registers is not.
            "- command: 'true'\n  register: probe\n- copy: {dest: /x, content: '{{ probe.stdout }}{{ prob.rc }}'}\n",
            "",
            HOSTS,
            "tasks/web.yml:3:29: undefined variable in `prob.rc`",
        ),
        (
            "- command: 'true'\n  register: 2nd\n",
            "",
            HOSTS,
            "tasks/web.yml:2:13: register name `2nd` must be a variable name",
        ),
        (
            "- command: 'true'\n  changed_when: 'rc =='\n",
            "",
            HOSTS,
            "tasks/web.yml:2:",
        ),
        (
            "- command: 'true'\n",
            "",
            "[other]\nh1",
            "inventory has no group [web]",
        ),
        (
            // Nothing to apply is a mistake, not a success after opening every connection.
            "",
            "",
            HOSTS,
            "tasks/web.yml:1:1: role `web` has no tasks: there is nothing to apply",
        ),
        (
            "handlers:\n  - name: h\n    command: 'true'\n",
            "",
            HOSTS,
            "role `web` has no tasks",
        ),
        (
            "- command: 'true'\n",
            "",
            "[web]\n[other]\nh1",
            "group [web] in inventory inventory has no hosts",
        ),
    ];
    for (tasks, template, inventory, expected) in cases {
        let dir = setup(tasks, template, inventory);
        let r = run(&dir).await;
        assert_eq!(
            r.status, 3,
            "exit 3 (invalid input) for {tasks:?}\n{}{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stderr.contains(expected),
            "expected `{expected}` in:\n{}",
            r.stderr
        );
        assert!(
            !r.stdout.contains("unreachable"),
            "no host was contacted: {}",
            r.stdout
        );
    }
}

#[tokio::test]
async fn undefined_variable_names_task_file_line_and_column() {
    let dir = setup(
        "- name: x\n  copy:\n    dest: /x\n    content: '{{ app_port }}'\n",
        "",
        HOSTS,
    );
    let r = run(&dir).await;
    assert_eq!(r.status, 3);
    assert!(
        r.stderr
            .contains("tasks/web.yml:4:14: undefined variable in `app_port`"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn a_mistyped_command_is_not_taken_for_a_role() {
    let dir = tempfile::tempdir().unwrap();
    let r = provision(dir.path(), &["instnace", "list"]).await;
    assert_eq!(r.status, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("`instnace` is neither a command")
            && r.stderr.contains("did you mean `instance`?"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn counts_and_forks_below_one_are_usage_errors() {
    let dir = setup("- command: 'true'\n", "", HOSTS);
    let tasks = dir.path().join("roles/tasks");
    let r = run_role(dir.path(), "web", &tasks, &["--forks", "0"]).await;
    assert_eq!(r.status, 64, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("invalid value '0' for '--forks <FORKS>': must be at least 1"),
        "{}",
        r.stderr
    );
    for args in [
        &["webserver", "--count", "0", "--cloud", "docker"][..],
        &["instance", "launch", "--role", "web", "--count", "0"][..],
    ] {
        let r = provision(dir.path(), args).await;
        assert_eq!(r.status, 64, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("invalid value '0' for '--count <COUNT>'"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
