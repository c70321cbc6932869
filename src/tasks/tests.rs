use super::*;

fn parse(text: &str) -> Result<TaskFile, TaskFileError> {
    TaskFile::parse("tasks/t.yml", text)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn list_and_mapping_forms() {
    let f =
        parse("- name: a\n  command: echo hi\n- file: {path: /tmp/x, state: directory}\n").unwrap();
    assert_eq!(f.tasks.len(), 2);
    assert_eq!(f.tasks[1].pos.line, 3);
    let g = parse(
        "tasks:\n  - name: t\n    copy: {dest: /x, content: y}\n    notify: [h]\nhandlers:\n  - name: h\n    command: 'true'\n",
    )
    .unwrap();
    assert_eq!(g.handlers.len(), 1);
    assert_eq!(g.tasks[0].notify, vec!["h"]);
}

#[test]
fn errors_name_file_line_and_column() {
    let e = err("- name: a\n  comand: echo hi\n");
    assert!(e.starts_with("tasks/t.yml:2:"), "{e}");
    assert!(e.contains("unknown module or task keyword `comand`"), "{e}");

    let e = err("- name: a\n  file:\n    path: /x\n    stat: directory\n");
    assert!(e.starts_with("tasks/t.yml:4:"), "{e}");
    assert!(e.contains("stat"), "{e}");

    let e = err("- name: a\n  become: maybe\n  command: x\n");
    assert!(e.starts_with("tasks/t.yml:2:"), "{e}");

    let e = err("- name: a\n");
    assert!(e.contains("names no module"), "{e}");

    let e = err("- name: a\n  command: x\n  shell: y\n");
    assert!(e.contains("two modules"), "{e}");

    let e = err("- name: a\n  command: x\n  notify: nobody\n");
    assert!(e.starts_with("tasks/t.yml:3:11: "), "{e}");
    assert!(e.contains("not a handler"), "{e}");
}

#[test]
fn mode_must_be_text() {
    let f = parse("- file: {path: /x, state: directory, mode: '0750'}\n").unwrap();
    assert_eq!(f.tasks.len(), 1);
    let e = parse("- file: {path: /x, state: directory, mode: 0750}\n");
    // A bare 0750 is kept as text when the YAML reader allows it, refused otherwise: never misread.
    if let Err(e) = e {
        assert!(e.to_string().contains("quoted octal"), "{e}");
    }
}

fn prepare_first(text: &str, vars: serde_json::Value) -> Result<PreparedTask, TaskFileError> {
    let file = parse(text)?;
    let env = render::environment();
    let vars = Value::from(minijinja::value::Serde(vars));
    let ctx = PrepareCtx {
        env: &env,
        vars: &vars,
        roles: &RoleSource::Embedded,
    };
    file.tasks[0].prepare(0, &ctx, false)
}

#[test]
fn apt_source_gets_signed_by_its_key_and_refreshes_lists() {
    let t = prepare_first(
        "- apt:\n    repo: 'deb {{ url }} bookworm main'\n    key_url: '{{ url }}key.asc'\n    packages: [couchdb]\n",
        serde_json::json!({"url": "http://10.0.0.5:8080/couchdb/"}),
    )
    .unwrap();
    let look = match t.module.look() {
        Some(module::Look::Shell(s)) => s,
        other => panic!("{other:?}"),
    };
    assert!(
        look.contains("/etc/apt/sources.list.d/10_0_0_5.list"),
        "{look}"
    );
    let seen = module::Observed {
        status: 0,
        output: "cache_age=10\nlock=812 unattended-upgr\n".into(),
    };
    let module::Plan::Change(change) = t.module.decide(Some(&seen)).unwrap() else {
        panic!("a new source is a change")
    };
    assert_eq!(
        change.summary,
        "fetched the key /etc/apt/keyrings/10_0_0_5.asc; wrote /etc/apt/sources.list.d/10_0_0_5.list; package lists refreshed; installed couchdb"
    );
    let written = String::from_utf8(change.steps[1].stdin.clone().unwrap()).unwrap();
    assert_eq!(
        written,
        "deb [signed-by=/etc/apt/keyrings/10_0_0_5.asc] http://10.0.0.5:8080/couchdb/ bookworm main\n"
    );
    assert_eq!(
        change.notice.as_deref(),
        Some("the dpkg lock is held by 812 unattended-upgr: apt waits for it up to 600s")
    );
    // In place and installed: nothing to do, and no notice about the lock.
    let sha = remote::sha256_hex(written.as_bytes());
    let settled = module::Observed {
        status: 0,
        output: format!(
            "cache_age=10\nlist_sha={sha}\nkey=yes\npkg|couchdb|install ok installed|3.3.3\nlock=812 unattended-upgr\n"
        ),
    };
    assert!(matches!(
        t.module.decide(Some(&settled)).unwrap(),
        module::Plan::Ok { .. }
    ));

    let e = prepare_first("- apt: {repo: 'http://x/ stable'}\n", serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tasks/t.yml:1:15: repo `http://x/ stable` must be a source line"),
        "{e}"
    );
}

fn refusal(text: &str) -> String {
    prepare_first(text, serde_json::json!({}))
        .unwrap_err()
        .to_string()
}

#[test]
fn values_a_command_would_take_for_options_are_refused_by_field() {
    let e = refusal("- git: {repo: '--upload-pack=touch /tmp/CANARY', dest: /opt/app}\n");
    assert!(
        e.contains("repo `--upload-pack=touch /tmp/CANARY` may not start with `-`"),
        "{e}"
    );
    let e = refusal("- git: {repo: 'https://x/a.git', dest: /opt/app, version: '--output=/x'}\n");
    assert!(e.contains("version `--output=/x` is not a branch"), "{e}");
    let e = refusal("- apt: {packages: [nginx, '-oAPT::Update::Pre-Invoke::=touch x']}\n");
    assert!(e.contains("packages: `-oAPT"), "{e}");
    let e = refusal("- service: {name: '--root=/tmp', state: started}\n");
    assert!(e.contains("name `--root=/tmp` is not a unit name"), "{e}");
    let e = refusal("- service: {name: 'nginx;touch x', state: started}\n");
    assert!(e.contains("is not a unit name"), "{e}");
    let e = refusal("- file: {path: /srv, state: directory, owner: '-R'}\n");
    assert!(e.contains("owner `-R` is not a user or group name"), "{e}");
    let e = refusal("- file: {path: /srv, state: directory, group: 'a:b'}\n");
    assert!(e.contains("group `a:b` is not a user or group name"), "{e}");
    let e = refusal("- command: id\n  become: true\n  become_user: '-s'\n");
    assert!(e.contains("become_user `-s`"), "{e}");
    let e = refusal("- user: {name: app, home: '/opt/a:b'}\n");
    assert!(e.contains("home `/opt/a:b` may not hold `:`"), "{e}");
    let e = refusal("- debconf: {name: '-x', question: q, vtype: string, value: v}\n");
    assert!(e.contains("name `-x` must be letters"), "{e}");
    let e = refusal("- mount: {path: '/data x', src: /dev/vdb, fstype: ext4}\n");
    assert!(e.contains("path `/data x` may not hold spaces"), "{e}");
    let e = refusal("- uri: {url: \"http://x/\\r\\nHost: y\"}\n");
    assert!(
        e.contains("url `http://x/\\r\\nHost: y` may not hold line breaks"),
        "{e}"
    );
    let e = refusal("- copy: {dest: \"/tmp/a\\0b\", content: x}\n");
    assert!(e.contains("NUL byte"), "{e}");
}

#[test]
fn option_taking_commands_get_an_end_of_options() {
    let t = prepare_first(
        "- git: {repo: 'https://x/a.git', dest: /opt/app, version: v1}\n",
        serde_json::json!({}),
    )
    .unwrap();
    let Some(module::Look::Shell(look)) = t.module.look() else {
        panic!()
    };
    assert!(
        look.contains("git ls-remote -- https://x/a.git v1 "),
        "{look}"
    );
    let t = prepare_first(
        "- file: {path: /srv/x, state: directory, mode: '0750', owner: app, group: app}\n",
        serde_json::json!({}),
    )
    .unwrap();
    let module::Plan::Change(c) = t
        .module
        .decide(Some(&module::Observed {
            status: 0,
            output: "absent\n".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    // Every directory `mkdir -p` creates gets the attributes, as in Ansible.
    assert_eq!(
        c.steps[0].script,
        "d=/srv/x; set --; while [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; do set -- \"$d\" \"$@\"; \
         d=$(dirname -- \"$d\"); done; mkdir -p -- /srv/x && for d in \"$@\"; do \
         chmod 0750 -- \"$d\" && chown -- app:app \"$d\" || exit 1; done"
    );
}

#[test]
fn hostile_host_names_in_paths_stay_one_quoted_word() {
    let t = prepare_first(
        "- copy: {dest: '/srv/{{ inventory_hostname }}/app.conf', content: x}\n",
        serde_json::json!({"inventory_hostname": "web1$(touch${IFS}x)\"`id`"}),
    )
    .unwrap();
    let module::Plan::Change(c) = t
        .module
        .decide(Some(&module::Observed {
            status: 0,
            output: "absent\n".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    let script = &c.steps[0].script;
    assert!(
        script.contains("[ -d '/srv/web1$(touch${IFS}x)\"`id`' ] || { printf 'directory %s does not exist\\n' '/srv/web1$(touch${IFS}x)\"`id`' >&2"),
        "{script}"
    );
}

#[test]
fn sync_points_are_tasks_that_can_see_other_hosts() {
    let f = parse(
        r#"
tasks:
  - name: local file
    copy: {dest: /tmp/a, content: "{{ inventory_hostname }} in {{ group_names }}"}
  - name: reads another host
    copy: {dest: /tmp/b, content: "{{ hostvars['x'].token }}"}
  - name: lists the group
    file: {path: "/tmp/{{ groups.web | length }}", state: directory}
  - name: a command can reach anything
    command: hostname
  - name: once
    file: {path: /tmp/once, state: directory}
    run_once: true
  - meta: flush_handlers
  - name: http
    uri: {url: "http://example.invalid/"}
"#,
    )
    .unwrap();
    let points: Vec<bool> = f.tasks.iter().map(|t| t.is_sync_point()).collect();
    assert_eq!(points, [false, true, true, true, true, true, true]);
    assert_eq!(f.strategy, crate::tasks::Strategy::Linear);
}

#[test]
fn strategy_is_linear_or_free() {
    let f = parse("strategy: free\ntasks:\n  - command: hostname\n").unwrap();
    assert_eq!(f.strategy, crate::tasks::Strategy::Free);
    let e = parse("strategy: host_pinned\ntasks:\n  - command: hostname\n").unwrap_err();
    assert!(
        e.message
            .contains("strategy `host_pinned` is not one of: linear, free"),
        "{e}"
    );
}

#[test]
fn run_once_is_refused_on_handlers_and_meta() {
    let e = err(
        "tasks:\n  - command: hostname\n    notify: h\nhandlers:\n  - name: h\n    command: hostname\n    run_once: true\n",
    );
    assert!(e.contains("`run_once` is for tasks"), "{e}");
    let e = err("tasks:\n  - meta: flush_handlers\n    run_once: true\n");
    assert!(e.contains("`run_once` does not apply to `meta`"), "{e}");
}

#[test]
fn task_vars_win_over_the_hosts_and_render_with_them() {
    let file = TaskFile::parse(
        "t.yml",
        "tasks:\n  - name: \"{{ port }}-{{ label }}\"\n    command: echo\n    vars:\n      port: 8080\n      label: \"p{{ base }}\"\n",
    )
    .unwrap();
    let env = crate::render::environment();
    let vars = Value::from(minijinja::value::Serde(
        serde_json::json!({"port": 80, "base": 1}),
    ));
    let roles = RoleSource::new(None);
    let ctx = PrepareCtx {
        env: &env,
        vars: &vars,
        roles: &roles,
    };
    let task = file.tasks[0].prepare(0, &ctx, false).unwrap();
    assert_eq!(task.name, "8080-p1");
}

#[test]
fn a_block_passes_its_keywords_to_its_tasks() {
    let file = TaskFile::parse(
        "t.yml",
        "tasks:\n  - name: group\n    when: ready\n    become: true\n    tags: [setup]\n    vars: {port: 80}\n    block:\n      - name: one\n        command: echo {{ port }}\n        when: other\n      - name: nested\n        block:\n          - name: two\n            command: echo two\n            vars: {port: 81}\n  - name: after\n    command: echo after\n",
    )
    .unwrap();
    let names: Vec<String> = file.tasks.iter().map(|t| t.display_name()).collect();
    assert_eq!(names, ["one", "two", "after"]);
    let when = |t: &TaskDef| -> Vec<String> {
        t.when
            .iter()
            .map(|c| match c {
                Condition::Expr { text, .. } => text.clone(),
                Condition::Literal(b) => b.to_string(),
            })
            .collect()
    };
    assert_eq!(when(&file.tasks[0]), ["ready", "other"]);
    assert_eq!(when(&file.tasks[1]), ["ready"]);
    assert!(
        file.tasks[1].words.contains("ready"),
        "waits for what the block's when uses"
    );
    assert_eq!(file.tasks[0].become_, Some(true));
    assert_eq!(file.tasks[1].tags, ["setup"]);
    assert_eq!(file.tasks[0].vars["port"], 80);
    assert_eq!(file.tasks[1].vars["port"], 81, "the task's own vars win");
    assert!(file.tasks[2].when.is_empty());
    let err = TaskFile::parse(
        "t.yml",
        "- name: b\n  block:\n    - command: echo\n  rescue:\n    - command: echo\n",
    )
    .unwrap_err();
    assert_eq!((err.line, err.column), (4, 3));
    assert!(
        err.message.contains("`rescue` is not supported"),
        "{}",
        err.message
    );
}

#[test]
fn modules_by_ansible_names_and_key_value_arguments() {
    let file = TaskFile::parse(
        "t.yml",
        "- ansible.builtin.file: path=/srv/x state=directory mode=0750\n- ansible.builtin.command: ./configure chdir=/opt/src creates=Makefile\n- shell: make\n  args:\n    chdir: /opt/src\n- ansible.builtin.systemd: name=nginx state=started enabled=yes\n- package: name=git state=present\n",
    )
    .unwrap();
    let kinds: Vec<&str> = file.tasks.iter().map(|t| t.module_name.as_str()).collect();
    assert_eq!(kinds, ["file", "command", "shell", "systemd", "package"]);
    let env = crate::render::environment();
    let vars = Value::from(minijinja::value::Serde(serde_json::json!({})));
    let roles = RoleSource::new(None);
    let ctx = PrepareCtx {
        env: &env,
        vars: &vars,
        roles: &roles,
    };
    let command = file.tasks[1].prepare(0, &ctx, false).unwrap();
    assert_eq!(command.module.target(), "./configure");
    let look = command.module.look().unwrap().as_shell();
    assert!(
        look.contains("/opt/src/Makefile"),
        "creates= relative to chdir=: {look}"
    );
    let err = TaskFile::parse("t.yml", "- file: path=/x directory\n").unwrap_err();
    assert!(
        err.message
            .contains("`directory` is not of the form key=value"),
        "{}",
        err.message
    );
    let err = TaskFile::parse(
        "t.yml",
        "- file: path=/x\n  args: {state: directory}\n- copy: {dest: /y}\n  args: {content: x}\n",
    )
    .unwrap_err();
    assert_eq!(err.line, 4, "{}", err.message);
}
