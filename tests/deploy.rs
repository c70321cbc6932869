//! `provision ROLE --count N` end to end: on the Docker cloud (containers of the host image,
//! systemd inside), and on moto's EC2 with SSH pointed at container hosts.

mod common;
use common::moto::{IMAGE, Moto, cloud_with_env};
use common::*;
use std::path::Path;

const ROLE: &str = r#"
- name: who am I
  copy: {dest: /etc/deployed, content: "{{ inventory_hostname }} {{ private_ip }} {{ greeting }}\n"}
  become: true
"#;

fn setup(dir: &Path, project: &DockerProject) -> String {
    std::fs::write(
        dir.join("configure.json"),
        format!(
            r#"{{"project": "{}", "cloud": "docker", "roles": {{"web": {{"count": 2}}}}, "vars": {{"greeting": "hello"}}}}"#,
            project.0
        ),
    )
    .unwrap();
    // Lines of the user's own, which deploy must keep.
    std::fs::write(
        dir.join("inventory"),
        "# my notes\n[web]\n# the web tier\n\n[web:vars]\ngreeting=from-the-inventory\n\n[db]\ndb1 ansible_host=192.0.2.20\n",
    )
    .unwrap();
    write_role(dir, "web", ROLE, &[])
        .to_string_lossy()
        .into_owned()
}

fn deploy_args<'a>(tasks: &'a str, count: &'a str) -> Vec<&'a str> {
    vec!["web", "--count", count, "--tasks-dir", tasks]
}

#[tokio::test]
async fn docker_cloud_scales_up_reruns_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let project = DockerProject::new();
    let tasks = setup(dir.path(), &project);
    let d = dir.path();
    let p = &project.0;

    // --count from configure.json (2); the role is applied to both.
    let first = provision(d, &["web", "--tasks-dir", &tasks, "--limit", "x"]).await;
    assert_eq!(
        first.status, 64,
        "deploy has no --limit: a usage error\n{}",
        first.stderr
    );
    let first = provision(d, &["deploy", "web", "--tasks-dir", &tasks]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("web: 0 of 2 instances exist; launching 2 on docker"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains(&format!(
            "ssh: {p}-web-1 host keys pinned from the docker cloud"
        )),
        "{}",
        first.stdout
    );
    assert_eq!(
        project.containers(),
        [format!("{p}-web-1 running"), format!("{p}-web-2 running")]
    );
    let ip1 = project
        .exec(&format!("{p}-web-1"), "hostname -i")
        .trim()
        .to_string();
    assert_eq!(
        project.exec(&format!("{p}-web-1"), "cat /etc/deployed"),
        format!("{p}-web-1 {ip1} from-the-inventory\n")
    );

    // Scale up: one more; the role runs on all three and changes only the new one.
    let up = provision(d, &deploy_args(&tasks, "3")).await;
    assert_eq!(up.status, 0, "{}\n{}", up.stdout, up.stderr);
    assert!(
        up.stdout
            .contains("web: 2 of 3 instances exist; launching 1 on docker"),
        "{}",
        up.stdout
    );
    assert!(
        up.stdout.contains(&format!("{p}-web-1 : ok=1 changed=0")),
        "{}",
        up.stdout
    );
    assert!(
        up.stdout.contains(&format!("{p}-web-3 : ok=0 changed=1")),
        "{}",
        up.stdout
    );
    assert_eq!(project.containers().len(), 3);
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    assert!(
        inventory.starts_with("# my notes\n[web]\n# the web tier\n"),
        "{inventory}"
    );
    assert!(
        inventory.contains("\n\n[web:vars]\ngreeting=from-the-inventory\n"),
        "{inventory}"
    );
    assert!(
        inventory.contains("[db]\ndb1 ansible_host=192.0.2.20\n"),
        "{inventory}"
    );
    for n in 1..=3 {
        assert_eq!(
            inventory
                .matches(&format!("{p}-web-{n} ansible_host="))
                .count(),
            1,
            "{inventory}"
        );
    }

    // Nothing to do.
    let again = provision(d, &deploy_args(&tasks, "3")).await;
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("web: 3 instances exist, none to launch"),
        "{}",
        again.stdout
    );
    assert_eq!(
        again.stdout.matches("changed=0").count(),
        3,
        "{}",
        again.stdout
    );
    assert!(
        !again.stdout.contains("pinned"),
        "keys already pinned: {}",
        again.stdout
    );

    // A smaller count terminates nothing and says how.
    let fewer = provision(d, &deploy_args(&tasks, "2")).await;
    assert_eq!(fewer.status, 0, "{}\n{}", fewer.stdout, fewer.stderr);
    assert!(
        fewer.stdout.contains(&format!(
            "To remove {p}-web-3: provision instance terminate --cloud docker "
        )),
        "{}",
        fewer.stdout
    );
    assert_eq!(project.containers().len(), 3);

    // A container dies: the re-run starts it again and configures it.
    let killed = std::process::Command::new("docker")
        .args(["kill", &format!("{p}-web-2")])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let repaired = provision(d, &deploy_args(&tasks, "3")).await;
    assert_eq!(
        repaired.status, 0,
        "{}\n{}",
        repaired.stdout, repaired.stderr
    );
    assert!(
        repaired
            .stdout
            .contains(&format!("web: starting 1 stopped instance(s): {p}-web-2")),
        "{}",
        repaired.stdout
    );
    assert!(
        project.containers().iter().all(|c| c.ends_with(" running")),
        "{:?}",
        project.containers()
    );
    assert!(
        project
            .exec(&format!("{p}-web-2"), "cat /etc/deployed")
            .starts_with(&format!("{p}-web-2 "))
    );
}

#[tokio::test]
async fn a_deploy_killed_midway_is_completed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let project = DockerProject::new();
    let tasks = setup(dir.path(), &project);
    let d = dir.path();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["web", "--count", "2", "--tasks-dir", &tasks])
        .current_dir(d)
        .env("PROVISION_KNOWN_HOSTS", d.join("known_hosts"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the instances exist: before SSH, the inventory and the role.
    let started = std::time::Instant::now();
    while project.containers().len() < 2 {
        assert!(
            started.elapsed().as_secs() < 120,
            "the containers never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().await.unwrap();
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    assert!(
        !inventory.contains(&format!("{}-web-", project.0)),
        "killed before the inventory: {inventory}"
    );

    let rerun = provision(d, &["web", "--count", "2", "--tasks-dir", &tasks]).await;
    assert_eq!(rerun.status, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(
        rerun
            .stdout
            .contains("web: 2 instances exist, none to launch"),
        "{}",
        rerun.stdout
    );
    assert_eq!(project.containers().len(), 2, "nothing launched twice");
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    assert_eq!(
        inventory.matches(&format!("{}-web-", project.0)).count(),
        2,
        "{inventory}"
    );
}

/// What deploy applied, `run` re-applies: it reads configure.json's `vars` and the secrets file
/// beside it, as deploy does, with no flag for either.
#[tokio::test]
async fn run_reapplies_what_deploy_applied_with_the_same_variables() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let p = &project.0;
    std::fs::write(
        d.join("configure.json"),
        format!(
            r#"{{"project": "{p}", "cloud": "docker", "vars": {{"greeting": "from-configure"}}}}"#
        ),
    )
    .unwrap();
    let tasks = write_role(
        d,
        "web",
        "- name: greeting and cookie\n  copy: {dest: /etc/deployed, content: \"{{ greeting }} {{ couchdb_cookie }}\\n\"}\n  become: true\n",
        &[],
    );
    let tasks = tasks.to_str().unwrap();
    let first = provision(d, &["web", "--count", "1", "--tasks-dir", tasks]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("secrets.json")).unwrap()).unwrap();
    let cookie = secrets["couchdb_cookie"].as_str().unwrap().to_string();
    let host = format!("{p}-web-1");
    assert_eq!(
        project.exec(&host, "cat /etc/deployed"),
        format!("from-configure {cookie}\n")
    );
    project.exec(&host, "rm /etc/deployed");
    let again = run_role(d, "web", Path::new(tasks), &["--json"]).await;
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(stats(&again), [(host.clone(), 0, 1, 0, 0)]);
    assert_eq!(
        project.exec(&host, "cat /etc/deployed"),
        format!("from-configure {cookie}\n")
    );
    assert!(!again.stdout.contains(&cookie), "the secret is masked");
}

/// The role is planned for the hosts it will have before anything is launched: an undefined
/// variable or a broken template stops deploy with the variable's name and place, and nothing
/// exists in the cloud after it.
#[tokio::test]
async fn a_role_that_cannot_render_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let p = &project.0;
    std::fs::write(
        d.join("configure.json"),
        format!(r#"{{"project": "{p}", "cloud": "docker"}}"#),
    )
    .unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "- name: app\n  git: {repo: \"{{ web_repo }}\", dest: /opt/app}\n",
            "",
            "tasks/web.yml:2:15: undefined variable in `web_repo` (on all 2 hosts)",
        ),
        (
            "- name: site\n  template: {src: site.j2, dest: /etc/site}\n",
            "upstream {\n{% for h in groups['web'] %}  server {{ hostvars[h].private_ip }}:{{ app_port }};\n{% endfor %}}\n",
            "site.j2:2: undefined variable in `app_port`",
        ),
        (
            "- name: site\n  template: {src: site.j2, dest: /etc/site}\n",
            "{% for h in groups['web'] %}\n",
            "site.j2",
        ),
    ];
    for (role, template, expected) in cases {
        let tasks = write_role(d, "web", role, &[("site.j2", template)]);
        let r = provision(
            d,
            &[
                "web",
                "--count",
                "2",
                "--tasks-dir",
                tasks.to_str().unwrap(),
            ],
        )
        .await;
        assert_eq!(r.status, 3, "{role}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(expected),
            "expected `{expected}` in {}",
            r.stderr
        );
        assert!(project.containers().is_empty(), "nothing was launched");
    }
}

/// Two deploys of one project at once: the second waits for the first (saying so), and the
/// project ends with the asked-for count, once, on one network.
#[tokio::test]
async fn two_deploys_at_once_launch_each_instance_once() {
    let dir = tempfile::tempdir().unwrap();
    let project = DockerProject::new();
    setup(dir.path(), &project);
    let d = dir.path();
    // The secrets a first deploy generates: both runs must configure the hosts with one set.
    let tasks = write_role(
        d,
        "web",
        "- name: cookie\n  copy: {dest: /etc/cookie, content: \"{{ couchdb_cookie }}\"}\n  become: true\n",
        &[],
    )
    .to_string_lossy()
    .into_owned();
    let args = deploy_args(&tasks, "2");
    let (a, b) = tokio::join!(provision(d, &args), provision(d, &args));
    for r in [&a, &b] {
        assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    }
    let waited = [&a, &b]
        .iter()
        .filter(|r| r.stdout.contains("another deploy of project"))
        .count();
    assert_eq!(waited, 1, "one waited:\n{}\n---\n{}", a.stdout, b.stdout);
    assert_eq!(
        project.containers(),
        [
            format!("{}-web-1 running", project.0),
            format!("{}-web-2 running", project.0)
        ]
    );
    let networks = std::process::Command::new("docker")
        .args(["network", "ls", "-q", "--filter"])
        .arg(format!("name=^provision-{}$", project.0))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&networks.stdout).lines().count(),
        1,
        "one network"
    );
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("secrets.json")).unwrap()).unwrap();
    let cookie = secrets["couchdb_cookie"].as_str().unwrap();
    for n in 1..=2 {
        assert_eq!(
            project.exec(&format!("{}-web-{n}", project.0), "cat /etc/cookie"),
            cookie,
            "every host has the secret the file holds"
        );
    }

    // With --no-wait, a deploy refuses while another holds the lock.
    let lock = d.join(".provision").join(format!("{}.lock", project.0));
    let holder = std::fs::File::open(&lock).unwrap();
    holder.lock().unwrap();
    let refused = provision(d, &[&args[..], &["--no-wait"]].concat()).await;
    assert_eq!(refused.status, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "another deploy of project `{}` is running",
            project.0
        )),
        "{}",
        refused.stderr
    );
}

/// `--cloud docker` with a configure.json made for EC2: the EC2 key settings do not apply.
#[tokio::test]
async fn the_docker_cloud_ignores_the_ec2_instance_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let ec2 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configure.ec2.json"),
    )
    .unwrap()
    .replace("\"group25\"", &format!("\"{}\"", project.0));
    std::fs::write(d.join("configure.json"), ec2).unwrap();
    let tasks = write_role(d, "web", "- command: 'true'\n  changed_when: false\n", &[]);
    let r = provision(
        d,
        &[
            "web",
            "--count",
            "1",
            "--cloud",
            "docker",
            "--tasks-dir",
            tasks.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        project.containers(),
        [format!("{}-web-1 running", project.0)]
    );
    let list = provision(d, &["instance", "list", "--cloud", "docker"]).await;
    assert_eq!(list.status, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains(&format!("{}-web-1", project.0)),
        "{}",
        list.stdout
    );
}

/// configure.json for moto's EC2 at `endpoint` (project g25; `cloud` gets `cloud_extra` and
/// `roles` is `roles`), the role, and two container hosts standing for the instances g25-web-1
/// and g25-web-2. Returns the hosts, the tasks folder and the address map deploy needs.
async fn ec2_setup(
    d: &Path,
    endpoint: &str,
    cloud_extra: &str,
    roles: &str,
) -> (Vec<Host>, String, String) {
    let key = keygen(d, "rsa-pem");
    let hosts = start_hosts("h", 2, &key).await;
    std::fs::write(
        d.join("configure.json"),
        format!(
            r#"{{"project": "g25",
  "cloud": {{"endpoint": "{endpoint}", "region": "us-east-1", {cloud_extra}}},
  "instances": {{"image_id": "{IMAGE}", "instance_type": "t2.micro", "key_name": "g25", "key_file": "{}"}},
  "roles": {roles},
  "vars": {{"greeting": "hi"}}}}"#,
            key.path.display()
        ),
    )
    .unwrap();
    let tasks = write_role(d, "web", ROLE, &[])
        .to_string_lossy()
        .into_owned();
    let map = format!(
        "g25-web-1=127.0.0.1:{},g25-web-2=127.0.0.1:{}",
        hosts[0].port, hosts[1].port
    );
    (hosts, tasks, map)
}

#[tokio::test]
async fn ec2_deploy_launches_tags_attaches_volumes_and_configures_through_ssh() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (hosts, tasks, map) = ec2_setup(
        d,
        &moto.endpoint,
        r#""availability_zone": "us-east-1a""#,
        r#"{"web": {"count": 2, "volume": {"size": 1, "device": "/dev/vdc"}}}"#,
    )
    .await;
    let env = [("PROVISION_TEST_ADDRESS_MAP", map.as_str())];

    let first = cloud_with_env(d, &["web", "--tasks-dir", &tasks], &env).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("web: 0 of 2 instances exist; launching 2 on ec2"),
        "{}",
        first.stdout
    );
    assert_eq!(
        first.stdout.matches("GiB) attached to g25-web-").count(),
        2,
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains(
            "ssh: g25-web-1 host key accepted on first sight: the ec2 cloud reported none"
        ),
        "{}",
        first.stdout
    );
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    for (n, host) in hosts.iter().enumerate() {
        let line = inventory
            .lines()
            .find(|l| l.starts_with(&format!("g25-web-{} ", n + 1)))
            .unwrap();
        assert!(
            line.contains(&format!("ansible_port={}", host.port)),
            "{line}"
        );
        assert!(line.contains("volume_device=/dev/vdc"), "{line}");
        let private_ip = line
            .split("private_ip=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert_eq!(
            host.sh("cat /etc/deployed").await,
            format!("g25-web-{} {private_ip} hi\n", n + 1)
        );
    }
    let instances = cloud_with_env(d, &["instance", "list", "--role", "web", "--json"], &[])
        .await
        .json();
    assert_eq!(instances.as_array().unwrap().len(), 2);

    // Again: nothing launched, no second volume, nothing changed.
    let again = cloud_with_env(d, &["web", "--tasks-dir", &tasks], &env).await;
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("web: 2 instances exist, none to launch"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("attached to"), "{}", again.stdout);
    assert_eq!(
        again.stdout.matches("changed=0").count(),
        2,
        "{}",
        again.stdout
    );
    let volumes = cloud_with_env(d, &["volume", "list", "--json"], &[])
        .await
        .json();
    // moto gives every instance a root volume too; the role's are the tagged ones.
    let role_volumes: Vec<&serde_json::Value> = volumes
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["role"] == "web")
        .collect();
    assert_eq!(role_volumes.len(), 2, "{volumes:?}");
    assert!(
        role_volumes
            .iter()
            .all(|v| v["state"] == "in-use" && v["device"] == "/dev/vdc")
    );

    // A bad image id: nothing is launched, and the message says what exists and what to run.
    std::fs::write(
        d.join("configure.json"),
        std::fs::read_to_string(d.join("configure.json"))
            .unwrap()
            .replace(IMAGE, "ami-00000000")
            .replace("\"count\": 2", "\"count\": 3"),
    )
    .unwrap();
    let bad = cloud_with_env(d, &["web", "--tasks-dir", &tasks], &env).await;
    assert_eq!(bad.status, 1, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr
            .contains("launching instances: RunInstances: InvalidAMIID"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("ec2 instances of web now: g25-web-1"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr
            .contains("then run `provision web --count 3 --cloud ec2` again"),
        "{}",
        bad.stderr
    );
}

/// Two deploys at once on EC2 (moto): the project lock makes the second find what the first
/// launched, so each instance exists once.
#[tokio::test]
async fn two_ec2_deploys_at_once_launch_each_instance_once() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_hosts, tasks, map) = ec2_setup(d, &moto.endpoint, r#""timeout": 30"#, "{}").await;
    let env = [("PROVISION_TEST_ADDRESS_MAP", map.as_str())];
    let args = ["web", "--count", "2", "--tasks-dir", &tasks];
    let (a, b) = tokio::join!(
        cloud_with_env(d, &args, &env),
        cloud_with_env(d, &args, &env)
    );
    for r in [&a, &b] {
        assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    }
    let launched: Vec<&Run> = [&a, &b]
        .into_iter()
        .filter(|r| r.stdout.contains("launching 2 on ec2"))
        .collect();
    assert_eq!(launched.len(), 1, "{}\n---\n{}", a.stdout, b.stdout);
    let list = cloud_with_env(d, &["instance", "list", "--role", "web", "--json"], &[]).await;
    assert_eq!(list.status, 0, "{}", list.stderr);
    let names: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["g25-web-1", "g25-web-2"]);
}

/// A run cut short between `docker create` and the container's start leaves it `created`: the
/// next deploy starts it and configures it, instead of waiting for it forever.
#[tokio::test]
async fn a_container_left_created_is_started_by_the_next_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let project = DockerProject::new();
    let tasks = setup(dir.path(), &project);
    let d = dir.path();
    let p = &project.0;
    let first = provision(d, &deploy_args(&tasks, "1")).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    let (repo, tag) = image();
    let key = std::fs::read_to_string(d.join(".provision/docker-key.pub")).unwrap();
    let created = std::process::Command::new("docker")
        .args([
            "create",
            "--name",
            &format!("{p}-web-2"),
            "--hostname",
            &format!("{p}-web-2"),
        ])
        .args(["--network", &format!("provision-{p}")])
        .args([
            "--label",
            &format!("provision.project={p}"),
            "--label",
            "provision.role=web",
        ])
        .args([
            "-e",
            &format!("AUTHORIZED_KEY={}", key.trim()),
            "-e",
            "BOOT=systemd",
        ])
        .args(["--tmpfs", "/run", "--tmpfs", "/run/lock"])
        .args(["-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns=host"])
        .arg(format!("{repo}:{tag}"))
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(project.containers().contains(&format!("{p}-web-2 created")));
    let repaired = provision(d, &deploy_args(&tasks, "2")).await;
    assert_eq!(
        repaired.status, 0,
        "{}\n{}",
        repaired.stdout, repaired.stderr
    );
    assert!(
        repaired
            .stdout
            .contains(&format!("web: starting 1 stopped instance(s): {p}-web-2")),
        "{}",
        repaired.stdout
    );
    assert_eq!(
        project.containers(),
        [format!("{p}-web-1 running"), format!("{p}-web-2 running")]
    );
    assert!(
        project
            .exec(&format!("{p}-web-2"), "cat /etc/deployed")
            .starts_with(&format!("{p}-web-2 "))
    );
}
