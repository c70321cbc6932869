//! The OpenStack cloud against the stand-in (integration/openstack/standin.py, servers are
//! containers of the test-host image): deploy with volumes found by id inside the guest and host
//! keys from the console, a killed deploy completed by the next run, the instance, volume and
//! snapshot commands, and the errors a Nectar user meets.

mod common;
use common::openstack::{
    FLAVOR, FULL_ZONE, Quotas, StandIn, ZONE, fresh_home, openstack_command, openstack_provision,
    write_config,
};
use common::{Run, container_ip, write_role};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Writes a file; where the host has the role's volume, checks the device is there and records
/// where it leads.
const ROLE: &str = r#"
- name: who am I
  copy: {dest: /etc/probe, content: "{{ inventory_hostname }}\n"}
  become: true
- name: the volume is there
  shell: "test -b {{ volume_device }} || test -e {{ volume_device }}"
  changed_when: false
  when: volume_device is defined
- name: where the volume leads
  command: "readlink -f {{ volume_device }}"
  register: resolved
  changed_when: false
  when: volume_device is defined
- name: record it
  copy: {dest: /etc/probe-volume, content: "{{ resolved.stdout }}\n"}
  become: true
  when: volume_device is defined
"#;

/// A test's stand-in and folder: clouds.yaml, configure.json (project `ostest`, role `probe`
/// with a 1 GiB volume) and the role's tasks.
struct Project {
    // Dropped first: the stand-in stops before its folder goes.
    cloud: StandIn,
    home: PathBuf,
    tasks: String,
    dir: tempfile::TempDir,
}

impl Project {
    fn new(quotas: Quotas) -> Project {
        Project::with_stand_in_args(quotas, &[])
    }

    /// A stand-in started with more arguments (an older cloud: `--volume-max-version 3.50`).
    fn with_stand_in_args(quotas: Quotas, extra: &[&str]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let cloud = StandIn::start_with(dir.path(), quotas, extra);
        cloud.write_clouds_yaml(dir.path());
        write_config(dir.path(), &cloud.config());
        let tasks = write_role(dir.path(), "probe", ROLE, &[])
            .to_string_lossy()
            .into_owned();
        let home = fresh_home(dir.path());
        Project {
            cloud,
            home,
            tasks,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn run(&self, args: &[&str]) -> Run {
        openstack_provision(self.path(), &self.home, args).await
    }

    /// With a new HOME: no token cached by an earlier run.
    async fn run_fresh(&self, args: &[&str]) -> Run {
        openstack_provision(self.path(), &fresh_home(self.path()), args).await
    }

    async fn deploy(&self, count: &str) -> Run {
        self.run(&[
            "probe",
            "--count",
            count,
            "--tasks-dir",
            self.tasks.as_str(),
        ])
        .await
    }

    async fn json(&self, args: &[&str]) -> Value {
        ok(&self.run(args).await).json()
    }

    async fn state(&self, id: &str) -> String {
        let listed = self.json(&["instance", "list", "--json"]).await;
        str_of(find(&listed, "id", id), "state").to_string()
    }
}

fn ok(run: &Run) -> &Run {
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

/// A run that failed: its stdout and stderr together.
fn failed(run: &Run) -> String {
    assert_ne!(
        run.status, 0,
        "expected a failure\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    format!("{}\n{}", run.stdout, run.stderr)
}

/// Lower case, `_` as a space: `security_groups` reads as `security groups`.
fn plain(text: &str) -> String {
    text.to_lowercase().replace('_', " ")
}

fn list(value: &Value) -> &[Value] {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("a JSON array: {value}"))
}

fn find<'a>(items: &'a Value, key: &str, wanted: &str) -> &'a Value {
    list(items)
        .iter()
        .find(|i| i[key] == wanted)
        .unwrap_or_else(|| panic!("no entry with {key} = {wanted} in {items}"))
}

fn str_of<'a>(item: &'a Value, key: &str) -> &'a str {
    item[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is a string in {item}"))
}

fn names(servers: &Value) -> Vec<String> {
    let mut names: Vec<String> = list(servers)
        .iter()
        .map(|s| str_of(s, "name").to_string())
        .collect();
    names.sort();
    names
}

/// The inventory's one line for `host`.
fn host_line<'a>(inventory: &'a str, host: &str) -> &'a str {
    let start = format!("{host} ");
    let lines: Vec<&str> = inventory
        .lines()
        .filter(|l| l.starts_with(&start))
        .collect();
    assert_eq!(lines.len(), 1, "one line for {host}:\n{inventory}");
    lines[0]
}

/// The value of `key=` on an inventory line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {key} in `{line}`"))
}

/// `changed=N` of a host's recap line.
fn changed(stdout: &str, host: &str) -> u64 {
    let marker = format!("{host} : ok=");
    let line = stdout
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no recap line for {host}:\n{stdout}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("changed="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no changed= in `{line}`"))
}

/// The role's servers are attached one volume each: the volumes' `attached_to`, sorted, are the
/// servers' ids, sorted.
fn one_volume_each(servers: &Value, volumes: &Value) {
    let mut attached: Vec<&str> = list(volumes)
        .iter()
        .map(|v| str_of(v, "attached_to"))
        .collect();
    attached.sort();
    let mut ids: Vec<&str> = list(servers).iter().map(|s| str_of(s, "id")).collect();
    ids.sort();
    assert_eq!(attached, ids, "one volume per server: {volumes}");
    for v in list(volumes) {
        assert_eq!(v["state"], "in-use", "{v}");
        assert_eq!(v["role"], "probe", "{v}");
    }
}

#[tokio::test]
async fn deploy_two_then_three_then_nothing() {
    let p = Project::new(Quotas::default());
    let d = p.path();

    let first = p.deploy("2").await;
    ok(&first);
    assert!(
        first
            .stdout
            .contains("probe: 0 of 2 instances exist; launching 2 on openstack"),
        "{}",
        first.stdout
    );
    for n in 1..=2 {
        assert!(
            first.stdout.contains(&format!(
                "ssh: ostest-probe-{n} host keys pinned from the openstack cloud"
            )),
            "{}",
            first.stdout
        );
    }
    assert!(!first.stdout.contains("on first sight"), "{}", first.stdout);
    assert_eq!(
        first
            .stdout
            .matches("GiB) attached to ostest-probe-")
            .count(),
        2,
        "{}",
        first.stdout
    );

    let servers = p
        .json(&["instance", "list", "--role", "probe", "--json"])
        .await;
    assert_eq!(names(&servers), ["ostest-probe-1", "ostest-probe-2"]);
    let volumes = p.json(&["volume", "list", "--json"]).await;
    assert_eq!(list(&volumes).len(), 2, "{volumes}");
    one_volume_each(&servers, &volumes);
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    let known_hosts = std::fs::read_to_string(d.join("known_hosts")).unwrap();
    for n in 1..=2 {
        let name = format!("ostest-probe-{n}");
        let server = find(&servers, "name", &name);
        let id = str_of(server, "id");
        assert_eq!(server["state"], "running", "{server}");
        assert_eq!(server["role"], "probe", "{server}");
        assert_eq!(server["project"], "ostest", "{server}");
        assert_eq!(server["zone"], ZONE, "{server}");
        let address = container_ip(&p.cloud.container(id));
        assert_eq!(server["private_ip"], address.as_str(), "{server}");
        let line = host_line(&inventory, &name);
        assert_eq!(field(line, "ansible_host"), address, "{line}");
        assert_eq!(field(line, "instance_id"), id, "{line}");

        // Its volume, by the id the guest sees it under (udev's virtio serial: 20 characters).
        let volume = find(&volumes, "attached_to", id);
        let vid = str_of(volume, "id");
        assert_eq!(volume["size_gib"], 1, "{volume}");
        assert_eq!(volume["zone"], ZONE, "{volume}");
        let by_id = format!("/dev/disk/by-id/virtio-{}", &vid[..20]);
        assert_eq!(field(line, "volume_device"), by_id, "{line}");
        let backing = format!("/var/lib/openstack-standin/volumes/{vid}.img");
        p.cloud.exec(id, &format!("test -e {by_id}"));
        assert_eq!(
            p.cloud.exec(id, &format!("readlink -f {by_id}")),
            format!("{backing}\n")
        );
        // What the role found there.
        assert_eq!(p.cloud.exec(id, "cat /etc/probe"), format!("{name}\n"));
        assert_eq!(
            p.cloud.exec(id, "cat /etc/probe-volume"),
            format!("{backing}\n")
        );

        // The keys pinned from the console are the server's own.
        let host_key = p.cloud.exec(id, "cat /etc/ssh/ssh_host_ed25519_key.pub");
        let blob = host_key.split_whitespace().nth(1).expect("a host key");
        assert!(
            known_hosts
                .lines()
                .any(|l| l.starts_with(&format!("{address} ")) && l.contains(blob)),
            "{name}'s ed25519 key at {address}:\n{known_hosts}"
        );
    }

    // One more: only the new one is launched, pinned and changed.
    let up = p.deploy("3").await;
    ok(&up);
    assert!(
        up.stdout
            .contains("probe: 2 of 3 instances exist; launching 1 on openstack"),
        "{}",
        up.stdout
    );
    assert_eq!(
        up.stdout
            .matches("host keys pinned from the openstack cloud")
            .count(),
        1,
        "{}",
        up.stdout
    );
    assert!(
        up.stdout
            .contains("ssh: ostest-probe-3 host keys pinned from the openstack cloud"),
        "{}",
        up.stdout
    );
    assert_eq!(changed(&up.stdout, "ostest-probe-1"), 0, "{}", up.stdout);
    assert_eq!(changed(&up.stdout, "ostest-probe-2"), 0, "{}", up.stdout);
    assert!(changed(&up.stdout, "ostest-probe-3") > 0, "{}", up.stdout);
    let servers = p
        .json(&["instance", "list", "--role", "probe", "--json"])
        .await;
    assert_eq!(
        names(&servers),
        ["ostest-probe-1", "ostest-probe-2", "ostest-probe-3"]
    );
    assert_eq!(p.cloud.containers().len(), 3, "{:?}", p.cloud.containers());
    let volumes = p.json(&["volume", "list", "--json"]).await;
    one_volume_each(&servers, &volumes);
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    for n in 1..=3 {
        host_line(&inventory, &format!("ostest-probe-{n}"));
    }

    // Nothing to do.
    let again = p.deploy("3").await;
    ok(&again);
    assert!(
        again
            .stdout
            .contains("probe: 3 instances exist, none to launch"),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("pinned"), "{}", again.stdout);
    assert!(!again.stdout.contains("attached to"), "{}", again.stdout);
    for n in 1..=3 {
        assert_eq!(
            changed(&again.stdout, &format!("ostest-probe-{n}")),
            0,
            "{}",
            again.stdout
        );
    }
    let servers = p
        .json(&["instance", "list", "--role", "probe", "--json"])
        .await;
    assert_eq!(list(&servers).len(), 3, "{servers}");
    let volumes = p.json(&["volume", "list", "--json"]).await;
    one_volume_each(&servers, &volumes);
}

#[tokio::test]
async fn killed_deploy_is_completed_by_a_rerun() {
    let p = Project::new(Quotas::default());
    let d = p.path();
    let mut child = openstack_command(d, &p.home)
        .args(["probe", "--count", "2", "--tasks-dir", p.tasks.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("provision starts");
    // Killed as soon as a server exists: before SSH, the volumes, the inventory and the role.
    let started = Instant::now();
    while p.cloud.containers().is_empty() {
        if child.try_wait().expect("try_wait").is_some() {
            let out = child.wait_with_output().await.unwrap();
            panic!(
                "the deploy ended before any server existed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no server appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().await.expect("SIGKILL");
    let killed = child.wait_with_output().await.unwrap();
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap_or_default();
    assert!(
        !inventory.contains("ostest-probe-"),
        "killed before the inventory: {inventory}\n{}",
        String::from_utf8_lossy(&killed.stdout)
    );

    let rerun = p.deploy("2").await;
    ok(&rerun);
    let servers = p
        .json(&["instance", "list", "--role", "probe", "--json"])
        .await;
    assert_eq!(
        names(&servers),
        ["ostest-probe-1", "ostest-probe-2"],
        "nothing launched twice"
    );
    for s in list(&servers) {
        assert_eq!(s["state"], "running", "{s}");
    }
    assert_eq!(p.cloud.containers().len(), 2, "{:?}", p.cloud.containers());
    let volumes = p.json(&["volume", "list", "--json"]).await;
    assert_eq!(list(&volumes).len(), 2, "no volume made twice: {volumes}");
    one_volume_each(&servers, &volumes);
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    for n in 1..=2 {
        let host = format!("ostest-probe-{n}");
        host_line(&inventory, &host);
        changed(&rerun.stdout, &host);
    }
}

#[tokio::test]
async fn controller_commands() {
    let p = Project::new(Quotas::default());

    let launched = p
        .json(&[
            "instance", "launch", "--role", "probe", "--count", "1", "--json",
        ])
        .await;
    assert_eq!(list(&launched).len(), 1, "{launched}");
    let server = &list(&launched)[0];
    assert_eq!(server["name"], "ostest-probe-1", "{server}");
    assert_eq!(server["role"], "probe", "{server}");
    assert_eq!(server["state"], "running", "{server}");
    assert_eq!(server["zone"], ZONE, "{server}");
    assert_eq!(server["instance_type"], FLAVOR, "{server}");
    let id = str_of(server, "id").to_string();
    let container = p.cloud.container(&id);

    let table = ok(&p.run(&["instance", "list"]).await).stdout.clone();
    let header = table.lines().next().unwrap_or_default();
    for col in ["ID", "NAME", "ROLE", "STATE", "TYPE", "PRIVATE IP", "ZONE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        table.contains(&id) && table.contains("ostest-probe-1"),
        "{table}"
    );
    let listed = p.json(&["instance", "list", "--json"]).await;
    assert_eq!(list(&listed).len(), 1, "{listed}");
    let entry = find(&listed, "id", &id);
    assert_eq!(entry["name"], "ostest-probe-1", "{entry}");
    assert_eq!(entry["role"], "probe", "{entry}");
    assert_eq!(entry["state"], "running", "{entry}");

    assert_eq!(
        ok(&p.run(&["instance", "stop", &id]).await).stdout.trim(),
        format!("stopped {id}")
    );
    assert_eq!(p.state(&id).await, "stopped");
    assert_eq!(p.cloud.containers(), [format!("{container} exited")]);
    assert_eq!(
        ok(&p.run(&["instance", "start", &id]).await).stdout.trim(),
        format!("running {id}")
    );
    assert_eq!(p.state(&id).await, "running");
    assert_eq!(p.cloud.containers(), [format!("{container} running")]);

    // A volume of its own, and one made for the server and attached to it.
    let created = ok(&p
        .run(&[
            "volume", "create", "--size", "1", "--zone", ZONE, "--role", "probe",
        ])
        .await)
    .stdout
    .clone();
    assert!(
        created.starts_with("created ") && created.contains(&format!("(1 GiB) in {ZONE}")),
        "{created}"
    );
    let spare = created.split_whitespace().nth(1).unwrap().to_string();
    let volumes = p.json(&["volume", "list", "--json"]).await;
    let v = find(&volumes, "id", &spare);
    assert_eq!(v["state"], "available", "{v}");
    assert_eq!(v["role"], "probe", "{v}");
    assert_eq!(v["zone"], ZONE, "{v}");
    assert_eq!(v["size_gib"], 1, "{v}");

    let attached = ok(&p.run(&["volume", "attach", "--size", "1", &id]).await)
        .stdout
        .clone();
    let data = attached.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        attached.starts_with(&format!("attached {data} (1 GiB) to {id}")),
        "{attached}"
    );
    let volumes = p.json(&["volume", "list", "--json"]).await;
    let v = find(&volumes, "id", &data);
    assert_eq!(v["state"], "in-use", "{v}");
    assert_eq!(v["attached_to"], id.as_str(), "{v}");
    assert_eq!(
        v["role"], "probe",
        "the volume carries its server's role: {v}"
    );
    assert_eq!(v["zone"], ZONE, "{v}");
    let by_id = format!("/dev/disk/by-id/virtio-{}", &data[..20]);
    p.cloud.exec(&id, &format!("test -e {by_id}"));

    // A snapshot of the volume in use.
    let made = ok(&p.run(&["snapshot", "create", &data]).await)
        .stdout
        .clone();
    assert!(
        made.starts_with("created ") && made.contains(&format!(" of {data}")),
        "{made}"
    );
    let snap = made.split_whitespace().nth(1).unwrap().to_string();
    let started = Instant::now();
    loop {
        let snaps = p.json(&["snapshot", "list", "--json"]).await;
        let s = find(&snaps, "id", &snap);
        assert_eq!(s["volume_id"], data.as_str(), "{s}");
        if s["state"] == "available" || s["state"] == "completed" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "snapshot never ready: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        ok(&p.run(&["snapshot", "delete", &snap]).await)
            .stdout
            .trim(),
        format!("deleted {snap}")
    );
    // The delete waited until the snapshot was gone.
    let snaps = p.json(&["snapshot", "list", "--json"]).await;
    assert!(
        !list(&snaps).iter().any(|s| s["id"] == snap.as_str()),
        "snapshot {snap} still listed: {snaps}"
    );

    // Nova has no forced detach for a project member: refused, nothing done.
    let forced = failed(&p.run(&["volume", "detach", "--force", &data]).await);
    assert!(forced.contains("--force is an EC2 option"), "{forced}");
    assert_eq!(
        ok(&p.run(&["volume", "detach", &data]).await).stdout.trim(),
        format!("detached {data} from {id}")
    );
    let volumes = p.json(&["volume", "list", "--json"]).await;
    assert_eq!(find(&volumes, "id", &data)["state"], "available");
    p.cloud.exec(&id, &format!("test ! -e {by_id}"));
    for volume in [&data, &spare] {
        assert_eq!(
            ok(&p.run(&["volume", "delete", volume]).await)
                .stdout
                .trim(),
            format!("deleted {volume}")
        );
        let volumes = p.json(&["volume", "list", "--json"]).await;
        assert!(
            !list(&volumes).iter().any(|v| v["id"] == volume.as_str()),
            "{volume} is gone: {volumes}"
        );
    }

    assert_eq!(
        ok(&p.run(&["instance", "reboot", &id]).await).stdout.trim(),
        format!("rebooting {id}")
    );
    let started = Instant::now();
    while p.state(&id).await != "running" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not running again after the reboot"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    assert_eq!(
        ok(&p.run(&["instance", "terminate", "--yes", &id]).await)
            .stdout
            .trim(),
        format!("terminated {id}")
    );
    let after = p.json(&["instance", "list", "--json"]).await;
    assert!(
        !list(&after).iter().any(|i| i["id"] == id.as_str()),
        "{after}"
    );
    assert!(
        p.cloud.containers().is_empty(),
        "{:?}",
        p.cloud.containers()
    );
}

#[tokio::test]
async fn errors_are_clear() {
    let p = Project::new(Quotas {
        instances: 1,
        ..Quotas::default()
    });
    let d = p.path();
    let base = p.cloud.config();

    // What configure.json names and the cloud lacks: said with the name, before any server.
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "flavor",
            json!("m9.huge"),
            vec!["m9.huge", "flavor", FLAVOR],
        ),
        (
            "image",
            json!("Ubuntu 99.04 (Imaginary)"),
            vec!["Ubuntu 99.04 (Imaginary)", "image"],
        ),
        ("key_name", json!("absent-pair"), vec!["absent-pair", "key"]),
        (
            "security_groups",
            json!(["default", "no-such-group"]),
            vec!["no-such-group", "security group"],
        ),
        ("network", json!("nope"), vec!["nope", "network"]),
        (
            "availability_zone",
            json!("nowhere"),
            vec!["nowhere", "availability zone", ZONE],
        ),
    ];
    for (field, value, words) in cases {
        let mut config = base.clone();
        config["instances"][field] = value;
        write_config(d, &config);
        let text = failed(&p.deploy("1").await);
        for word in words {
            assert!(
                plain(&text).contains(&plain(word)),
                "instances.{field}: expected `{word}` in:\n{text}"
            );
        }
    }
    write_config(d, &base);
    let servers = p.json(&["instance", "list", "--json"]).await;
    assert!(list(&servers).is_empty(), "no server was made: {servers}");
    assert!(
        p.cloud.containers().is_empty(),
        "{:?}",
        p.cloud.containers()
    );

    // A wrong application credential secret: named as such, and no secret shown.
    let wrong = format!("wrong-secret-{:016x}", rand::random::<u64>());
    p.cloud.write_clouds_yaml_with_secret(d, &wrong);
    let text = failed(&p.run_fresh(&["instance", "list"]).await);
    assert!(
        plain(&text).contains(&format!(
            "refused application credential {}",
            p.cloud.app_cred_id
        )),
        "{text}"
    );
    assert!(text.contains("clouds.yaml"), "{text}");
    assert!(
        !text.contains(&wrong) && !text.contains(&p.cloud.app_cred_secret),
        "a secret shown: {text}"
    );
    p.cloud.write_clouds_yaml(d);

    // A cloud clouds.yaml does not have: named, with the ones it has and the file read.
    let mut config = base.clone();
    config["openstack"]["cloud"] = json!("elsewhere");
    write_config(d, &config);
    let text = failed(&p.run_fresh(&["instance", "list"]).await);
    assert!(text.contains("elsewhere"), "{text}");
    assert!(text.contains("nectar"), "{text}");
    let read = [
        d.join("clouds.yaml"),
        d.canonicalize().unwrap().join("clouds.yaml"),
    ];
    assert!(
        read.iter()
            .any(|path| text.contains(&path.display().to_string()))
            || text.contains("./clouds.yaml"),
        "the clouds.yaml read: {text}"
    );
    write_config(d, &base);

    // No clouds.yaml anywhere and no OS_* variables: the places looked in.
    std::fs::remove_file(d.join("clouds.yaml")).unwrap();
    let home = fresh_home(d);
    let text = failed(&openstack_provision(d, &home, &["instance", "list"]).await);
    assert!(text.contains("/etc/openstack/clouds.yaml"), "{text}");
    let user_config = home.join(".config/openstack/clouds.yaml");
    assert!(
        text.contains("~/.config/openstack/clouds.yaml")
            || text.contains(&user_config.display().to_string()),
        "{text}"
    );

    // An openrc file's OS_* variables instead, with no cloud named in configure.json.
    let mut config = base.clone();
    config.as_object_mut().unwrap().remove("openstack");
    write_config(d, &config);
    let out = openstack_command(d, &home)
        .args(["instance", "list", "--json"])
        .env("OS_AUTH_URL", &p.cloud.auth_url)
        .env("OS_AUTH_TYPE", "v3applicationcredential")
        .env("OS_APPLICATION_CREDENTIAL_ID", &p.cloud.app_cred_id)
        .env("OS_APPLICATION_CREDENTIAL_SECRET", &p.cloud.app_cred_secret)
        .env("OS_REGION_NAME", "Melbourne")
        .env("OS_INTERFACE", "public")
        .env("OS_IDENTITY_API_VERSION", "3")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write_config(d, &base);
    // No token was written to disk by any of these runs (openstack_sdk makes an empty ~/.osc).
    for home in [&home, &p.home] {
        let cached: Vec<_> = std::fs::read_dir(home.join(".osc"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(cached.is_empty(), "{cached:?}");
    }

    // The password form of clouds.yaml works too.
    p.cloud.write_password_clouds_yaml(d);
    let listed = ok(&p.run_fresh(&["instance", "list", "--json"]).await).json();
    assert!(list(&listed).is_empty(), "{listed}");
    p.cloud.write_clouds_yaml(d);

    // Quota: one instance allowed, two asked for.
    let text = failed(&p.deploy("2").await);
    assert!(
        plain(&text).contains("quota") && plain(&text).contains("instances"),
        "{text}"
    );
    // Whatever a launch of one server at a time left: the next case needs the one instance.
    let left = p.json(&["instance", "list", "--json"]).await;
    let ids: Vec<&str> = list(&left).iter().map(|i| str_of(i, "id")).collect();
    if !ids.is_empty() {
        let mut args = vec!["instance", "terminate", "--yes"];
        args.extend(ids);
        ok(&p.run(&args).await);
    }

    // A zone with no room: the server goes to ERROR, the fault is shown, the server is left.
    let mut config = base.clone();
    config["instances"]["availability_zone"] = json!(FULL_ZONE);
    write_config(d, &config);
    let text = failed(&p.deploy("1").await);
    assert!(text.contains("No valid host"), "{text}");
    let servers = p.json(&["instance", "list", "--json"]).await;
    assert_eq!(names(&servers), ["ostest-probe-1"], "{servers}");
    assert_eq!(list(&servers)[0]["state"], "error", "{servers}");
}

/// Clouds older than the newest: below Cinder 3.66 a snapshot of a volume in use still works
/// (sent with `force`, as Cinder then requires); below Nova 2.47, which provision relies on, every
/// server request is refused with a message that says so, before anything is asked of the cloud.
#[tokio::test]
async fn older_clouds() {
    let p = Project::with_stand_in_args(Quotas::default(), &["--volume-max-version", "3.50"]);
    let launched = p
        .json(&[
            "instance", "launch", "--role", "probe", "--count", "1", "--json",
        ])
        .await;
    let id = str_of(&list(&launched)[0], "id").to_string();
    ok(&p.run(&["volume", "attach", "--size", "1", &id]).await);
    let volumes = p.json(&["volume", "list", "--json"]).await;
    let volume = str_of(find(&volumes, "attached_to", &id), "id").to_string();
    assert_eq!(
        find(&volumes, "id", &volume)["state"],
        "in-use",
        "{volumes}"
    );
    let made = ok(&p.run(&["snapshot", "create", &volume]).await)
        .stdout
        .clone();
    assert!(
        made.starts_with("created ") && made.contains(&format!(" of {volume}")),
        "{made}"
    );
    drop(p);

    let old = Project::with_stand_in_args(Quotas::default(), &["--compute-max-version", "2.40"]);
    let refused = old.run(&["instance", "list"]).await;
    let message = failed(&refused);
    assert!(
        message.contains("older than provision needs")
            && message.contains("2.47")
            && message.contains("2.40"),
        "{message}"
    );
    // Volumes need no newer Cinder than this cloud has: they still work.
    ok(&old.run(&["volume", "list"]).await);
}
