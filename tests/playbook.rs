//! `provision playbook` on an Ansible project (plays, roles in the roles layout with a
//! dependency, defaults, vars, handlers and templates, imports, group_vars and host_vars,
//! `key=value` arguments, fully qualified module names, set_fact, stat, assert, tags), compared
//! with ansible-playbook on twin hosts: the same end state and the same changes, cold and warm.

mod common;
use common::ansible::ansible_playbook_run;
use common::*;
use std::path::Path;

const FILES: &[(&str, &str)] = &[
    (
        "site.yml",
        r#"- name: web tier
  hosts: web
  become: true
  vars:
    greeting: hello
  vars_files:
    - vars/common.yml
  pre_tasks:
    - name: a fact for later
      set_fact:
        peers: "{{ groups['web'] | length }}"
      tags: [always]
  roles:
    - role: app
      app_port: 8080
      tags: [app]
  tasks:
    - name: look at the config
      stat: path=/srv/app/app.conf
      register: conf
      tags: always
    - name: the config is there
      assert:
        that:
          - conf.stat.exists
          - conf.stat.mode == '0640'
    - name: summary
      ansible.builtin.copy:
        dest: /srv/app/summary
        content: "{{ greeting }} {{ colour }} {{ size }} peers={{ peers }} owner={{ conf.stat.pw_name }}\n"
      tags: [summary]
  post_tasks:
    - name: done marker
      file: path=/srv/app/done state=touch mode=0600
      changed_when: false
- import_playbook: second.yml
"#,
    ),
    (
        "second.yml",
        r#"- hosts: all
  become: true
  tasks:
    - name: second play
      copy: {dest: /srv/second, content: "second {{ inventory_hostname }}\n"}
"#,
    ),
    ("vars/common.yml", "colour: blue\n"),
    ("group_vars/web.yml", "size: small\ncolour: red\n"),
    ("host_vars/w2.yml", "size: large\n"),
    (
        "roles/base/tasks/main.yml",
        "- name: base directory\n  ansible.builtin.file: path=/srv/app state=directory mode=0750\n",
    ),
    ("roles/app/meta/main.yml", "dependencies:\n  - base\n"),
    (
        "roles/app/defaults/main.yml",
        "app_port: 80\napp_workers: 2\napp_extra: null\n",
    ),
    ("roles/app/vars/main.yml", "app_dir: /srv/app\n"),
    (
        "roles/app/tasks/main.yml",
        r#"- import_tasks: dirs.yml
- name: config
  template: src=app.conf.j2 dest={{ app_dir }}/app.conf mode=0640
  notify: restart app
- name: a setting
  lineinfile:
    path: "{{ app_dir }}/workers.conf"
    regexp: '^workers='
    line: "workers={{ app_workers }}"
    create: true
- name: seeded once
  command: touch seeded
  args:
    chdir: "{{ app_dir }}"
    creates: seeded
"#,
    ),
    (
        "roles/app/tasks/dirs.yml",
        "- name: data directories\n  file:\n    path: \"{{ app_dir }}/data/{{ item }}\"\n    state: directory\n    mode: \"0750\"\n  loop: [a, b]\n",
    ),
    (
        "roles/app/templates/app.conf.j2",
        "# {{ inventory_hostname }}\nport={{ app_port }}\n{% for p in [app_port, app_port + 1] %}\nlisten={{ p }}\n{% endfor %}\nextra=[{{ app_extra }}]\n",
    ),
    (
        "roles/app/handlers/main.yml",
        "- name: restart app\n  shell: echo restarted >> /srv/app/restarts\n  listen: app changed\n",
    ),
];

fn write_project(dir: &Path) {
    for (name, text) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn inventory(dir: &Path, name: &str, group: &str, hosts: &[Host], key: &Key) -> std::path::PathBuf {
    let mut text = format!("[{group}]\n");
    for (i, h) in hosts.iter().enumerate() {
        text.push_str(&format!(
            "w{} ansible_host=127.0.0.1 ansible_port={}\n",
            i + 1,
            h.port
        ));
    }
    text.push_str(&format!(
        "[{group}:vars]\nansible_user=ubuntu\nansible_ssh_private_key_file={}\n",
        key.path.display()
    ));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Every path under /srv with its type, mode, owner and content.
async fn end_state(host: &Host) -> String {
    host.sh(
        "cd /srv && find . -printf '%y %m %u %g %p\\n' | sort && find . -type f | sort | xargs cat",
    )
    .await
}

#[tokio::test]
async fn a_playbook_with_roles_does_what_ansible_playbook_does() {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let key = keygen(dir.path(), "ed25519");
    let (theirs, ours) = tokio::join!(start_hosts("a", 2, &key), start_hosts("p", 2, &key));
    let ansible_inventory = inventory(dir.path(), "inventory-ansible", "web", &theirs, &key);
    inventory(dir.path(), "inventory", "web", &ours, &key);
    let playbook = std::fs::read_to_string(dir.path().join("site.yml")).unwrap();

    for round in ["cold", "warm"] {
        let ansible = ansible_playbook_run(dir.path(), &ansible_inventory, &playbook).await;
        assert_eq!(ansible.status, 0, "{}\n{}", ansible.stdout, ansible.stderr);
        let run = provision(
            dir.path(),
            &["playbook", "site.yml", "-i", "inventory", "--json"],
        )
        .await;
        assert_eq!(run.status, 0, "{round}: {}\n{}", run.stdout, run.stderr);
        let recap = ansible.recap();
        for host in run.json()["hosts"].as_array().unwrap() {
            let name = host["host"].as_str().unwrap();
            // Ansible counts a task once, whatever its loop: so are the items here.
            let mut changed: Vec<&str> = host["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["status"] == "changed")
                .map(|t| {
                    let n = t["name"].as_str().unwrap();
                    n.split(" (item=").next().unwrap()
                })
                .collect();
            changed.dedup();
            let (_, their_changed, their_failed, _) = recap[name];
            assert_eq!(
                (
                    changed.len() as u64,
                    host["stats"]["failed"].as_u64().unwrap()
                ),
                (their_changed, their_failed),
                "{round} run, {name}: changed and failed tasks as ansible-playbook reports them ({changed:?})\n{}",
                ansible.stdout
            );
            if round == "warm" {
                assert!(changed.is_empty(), "warm run changes nothing on {name}");
            }
        }
        for (a, p) in theirs.iter().zip(&ours) {
            assert_eq!(
                end_state(p).await,
                end_state(a).await,
                "{round} run: /srv as ansible-playbook left it"
            );
        }
    }
    let conf = ours[0].sh("cat /srv/app/app.conf").await;
    assert_eq!(
        conf, "# w1\nport=8080\nlisten=8080\nlisten=8081\nextra=[]\n",
        "role parameter over the default, no blank lines after block tags, none as nothing"
    );
    assert_eq!(
        ours[1].sh("cat /srv/app/summary").await,
        "hello blue large peers=2 owner=root\n",
        "play vars, vars_files over group_vars, host_vars over group_vars, set_fact, stat"
    );

    // --tags: only the tasks tagged `summary`, and those tagged `always` (none of the role's).
    ours[0]
        .sh("rm /srv/app/summary /srv/app/workers.conf")
        .await;
    let tagged = provision(
        dir.path(),
        &[
            "playbook",
            "site.yml",
            "-i",
            "inventory",
            "--json",
            "--tags",
            "summary",
            "--limit",
            "w1",
        ],
    )
    .await;
    assert_eq!(tagged.status, 0, "{}\n{}", tagged.stdout, tagged.stderr);
    let names: Vec<String> = tagged.json()["hosts"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["a fact for later", "look at the config", "summary"],
        "only the tagged tasks ran, and those tagged always"
    );
    assert_eq!(
        ours[0]
            .sh("test -e /srv/app/workers.conf || echo gone")
            .await,
        "gone\n"
    );
    assert!(
        ours[0]
            .sh("cat /srv/app/summary")
            .await
            .starts_with("hello")
    );
}

#[tokio::test]
async fn what_provision_does_not_have_is_refused_before_any_host_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: web\n  tasks:\n    - name: elsewhere\n      command: hostname\n      delegate_to: localhost\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("inventory"),
        "[web]\nw1 ansible_host=192.0.2.1 ansible_ssh_private_key_file=/nonexistent\n",
    )
    .unwrap();
    let run = provision(dir.path(), &["playbook", "site.yml", "-i", "inventory"]).await;
    assert_eq!(
        run.status, 3,
        "invalid input\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr
            .contains("site.yml:5:7: unknown module or task keyword `delegate_to`"),
        "{}",
        run.stderr
    );
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: web\n  serial: 2\n  tasks: []\n",
    )
    .unwrap();
    let run = provision(dir.path(), &["playbook", "site.yml", "-i", "inventory"]).await;
    assert_eq!(run.status, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("site.yml:2:") && run.stderr.contains("`serial`"),
        "{}",
        run.stderr
    );
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: web\n  roles: [missing]\n",
    )
    .unwrap();
    let run = provision(dir.path(), &["playbook", "site.yml", "-i", "inventory"]).await;
    assert!(
        run.stderr.contains("site.yml:2:") && run.stderr.contains("role `missing` not found"),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("known_hosts").exists(),
        "no host was contacted"
    );
}

#[tokio::test]
async fn run_applies_a_role_in_the_roles_layout() {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let key = keygen(dir.path(), "ed25519");
    let hosts = start_hosts("r", 1, &key).await;
    let inv = inventory(dir.path(), "inventory", "app", &hosts, &key);
    let run = provision(
        dir.path(),
        &[
            "run",
            "app",
            "-i",
            inv.to_str().unwrap(),
            "--become",
            "-e",
            "app_workers=7",
        ],
    )
    .await;
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        hosts[0]
            .sh("cat /srv/app/app.conf /srv/app/workers.conf | grep -E '^(port|workers)='")
            .await,
        "port=80\nworkers=7\n",
        "the role's default, and -e over it"
    );
    assert_eq!(hosts[0].sh("cat /srv/app/restarts").await, "restarted\n");
}
