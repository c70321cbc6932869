//! The built-in couchdb role on the Docker cloud, against a STAND-IN couchdb package served from
//! a signed apt repository of our own, since the Apache repository cannot be reached from here
//! and CouchDB is not in Debian. The stand-in (tests/fixtures/couchdb-standin/, see its README)
//! follows Apache's package (its postinst, config files, the debconf password cleared) and
//! CouchDB's config persistence (changes made at run time saved into the last ini file, plain
//! admin passwords hashed with a random salt at start), and counts its starts, so that a second
//! run that rewrote a file or restarted a node shows here.

mod common;
use common::*;
use std::path::Path;

/// The stand-in package's files: where each goes, and its text.
const PACKAGE_FILES: &[(&str, &str)] = &[
    (
        "/opt/couchdb/bin/couchdb-standin.py",
        include_str!("fixtures/couchdb-standin/couchdb-standin.py"),
    ),
    (
        "/opt/couchdb/etc/default.ini",
        include_str!("fixtures/couchdb-standin/default.ini"),
    ),
    (
        "/opt/couchdb/etc/default.d/10-filelog.ini",
        include_str!("fixtures/couchdb-standin/10-filelog.ini"),
    ),
    (
        "/opt/couchdb/etc/local.ini",
        include_str!("fixtures/couchdb-standin/local.ini"),
    ),
    (
        "/opt/couchdb/etc/vm.args",
        include_str!("fixtures/couchdb-standin/vm.args"),
    ),
    (
        "/etc/default/couchdb",
        include_str!("fixtures/couchdb-standin/couchdb.default"),
    ),
    (
        "/lib/systemd/system/couchdb.service",
        include_str!("fixtures/couchdb-standin/couchdb.service"),
    ),
    (
        "DEBIAN/postinst",
        include_str!("fixtures/couchdb-standin/postinst"),
    ),
    (
        "DEBIAN/config",
        include_str!("fixtures/couchdb-standin/config"),
    ),
    (
        "DEBIAN/templates",
        include_str!("fixtures/couchdb-standin/templates"),
    ),
    (
        "DEBIAN/prerm",
        include_str!("fixtures/couchdb-standin/prerm"),
    ),
    (
        "DEBIAN/postrm",
        include_str!("fixtures/couchdb-standin/postrm"),
    ),
    (
        "DEBIAN/conffiles",
        include_str!("fixtures/couchdb-standin/conffiles"),
    ),
];

fn standin_repository(dir: &Path) -> std::path::PathBuf {
    let package = package_dir_with(
        dir,
        "couchdb",
        "3.3.3~standin",
        "Depends: python3, debconf\n",
        PACKAGE_FILES,
    );
    let repo = dir.join("repo");
    build_apt_repository_for(&repo, "bookworm", &[package]);
    repo
}

/// Serves the stand-in's repository on the project's network and writes a configure.json for
/// the couchdb role (`role`: its settings; `more_vars`: `, "name": value` pairs). The server
/// stops when what is returned is dropped.
async fn configure(
    dir: &Path,
    project: &str,
    role: &str,
    more_vars: &str,
) -> testcontainers::ContainerAsync<testcontainers::GenericImage> {
    let repo = standin_repository(dir);
    let (server, repo_ip) = start_web_server_on(&repo, Some(&format!("provision-{project}"))).await;
    std::fs::write(
        dir.join("configure.json"),
        format!(
            r#"{{"project": "{project}", "cloud": "docker", "roles": {{"couchdb": {role}}},
  "vars": {{"couchdb_repo_url": "http://{repo_ip}/", "couchdb_repo_key_url": "http://{repo_ip}/key.asc"{more_vars}}}}}"#
        ),
    )
    .unwrap();
    server
}

/// How many times CouchDB started on each node.
fn starts(project: &DockerProject, nodes: &[String]) -> Vec<usize> {
    nodes
        .iter()
        .map(|n| {
            project
                .exec(n, "cat /opt/couchdb/data/standin-starts")
                .lines()
                .count()
        })
        .collect()
}

/// A login session opened on `from` (POST /_session), then presented to `to`: the user it
/// names there, or what `to` answered.
fn session_user(project: &DockerProject, from: &str, to_ip: &str, password: &str) -> String {
    let value = project.exec(
        from,
        &format!(
            "curl -s -c /tmp/jar -o /dev/null -H 'Content-Type: application/json' \
             -d '{{\"name\": \"admin\", \"password\": \"{password}\"}}' http://127.0.0.1:5984/_session \
             && awk '$6 == \"AuthSession\" {{print $7}}' /tmp/jar"
        ),
    );
    let value = value.trim();
    assert!(!value.is_empty(), "no session cookie from {from}");
    let answer = project.exec(
        from,
        &format!("curl -s -H 'Cookie: AuthSession={value}' http://{to_ip}:5984/_session"),
    );
    let doc: serde_json::Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("/_session on {to_ip}: {e}: {answer}"));
    doc["userCtx"]["name"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| answer.clone())
}

/// `curl` on a node, as the admin.
fn couch(project: &DockerProject, node: &str, password: &str, path: &str) -> serde_json::Value {
    let out = project.exec(
        node,
        &format!("curl -s -u admin:{password} http://127.0.0.1:5984{path}"),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path} on {node}: {e}: {out}"))
}

#[tokio::test]
async fn three_node_cluster_rerun_and_scale_up_to_four() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let p = project.0.clone();
    let _server = configure(
        d,
        &p,
        r#"{"count": 3, "volume": {"size": 40}}"#,
        r#", "couchdb_databases": ["tweets", "users"]"#,
    )
    .await;

    let first = provision(d, &["couchdb"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains("volume: volumes are not supported on the docker cloud"),
        "{}",
        first.stdout
    );
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("secrets.json")).unwrap()).unwrap();
    let password = secrets["couchdb_admin_password"]
        .as_str()
        .unwrap()
        .to_string();
    let coordinator = format!("{p}-couchdb-1");
    let ips: Vec<String> = (1..=3)
        .map(|n| {
            project
                .exec(&format!("{p}-couchdb-{n}"), "hostname -i")
                .trim()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = ips.iter().map(|ip| format!("couchdb@{ip}")).collect();
    let sorted = |v: &serde_json::Value| {
        let mut l: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        l.sort();
        l
    };
    let mut want = expected.clone();
    want.sort();
    let members = couch(&project, &coordinator, &password, "/_membership");
    assert_eq!(sorted(&members["all_nodes"]), want, "{members}");
    assert_eq!(sorted(&members["cluster_nodes"]), want, "{members}");
    assert_eq!(
        couch(&project, &coordinator, &password, "/_cluster_setup")["state"],
        "cluster_finished"
    );
    assert_eq!(
        couch(&project, &coordinator, &password, "/tweets")["db_name"],
        "tweets"
    );
    // Every node has the shared settings and its own node name, the package's own vm.args lines
    // are kept, every node keeps 3 copies of each shard, the data lives on the data path, and
    // the admin password is not back in debconf after the package cleared it.
    let nodes: Vec<String> = (1..=3).map(|n| format!("{p}-couchdb-{n}")).collect();
    for (node, ip) in nodes.iter().zip(&ips) {
        let vm_args = project.exec(node, "cat /opt/couchdb/etc/vm.args");
        for line in [
            format!("-name couchdb@{ip}\n"),
            "-kernel inet_dist_listen_min 9100\n".into(),
            "-kernel inet_dist_listen_max 9200\n".into(),
            "+Bd -noinput\n".into(),
            "-kernel prevent_overlapping_partitions false\n".into(),
        ] {
            assert!(vm_args.contains(&line), "{node}: {line:?} in\n{vm_args}");
        }
        assert_eq!(
            couch(&project, node, &password, "/_node/_local/_config/cluster/n"),
            "3",
            "{node}"
        );
        assert_eq!(project.exec(node, "stat -c %U /data/couchdb"), "couchdb\n");
        assert_eq!(
            project
                .exec(node, "echo get couchdb/adminpass | debconf-communicate")
                .trim(),
            "0",
            "{node}: the admin password is back in debconf"
        );
    }
    // A login session opened on one node is good on the others: one admin hash everywhere.
    for ip in &ips[1..] {
        assert_eq!(session_user(&project, &coordinator, ip, &password), "admin");
    }
    let started = starts(&project, &nodes);

    // The stand-in refuses what CouchDB refuses.
    let post = |body: &str, auth: &str| {
        project.exec(
            &coordinator,
            &format!(
                "curl -s -w ' %{{http_code}}' -u {auth} -H 'Content-Type: application/json' -d '{body}' http://127.0.0.1:5984/_cluster_setup"
            ),
        )
    };
    let admin = format!("admin:{password}");
    assert!(post(r#"{"action": "finish_cluster"}"#, "admin:wrong").ends_with(" 401"));
    assert!(post(r#"{"action": "join_everything"}"#, &admin).contains("Invalid Action"));
    let not_enabled = post(
        r#"{"action": "add_node", "host": "10.255.255.1", "port": 5984, "username": "admin", "password": "x"}"#,
        &admin,
    );
    assert!(
        not_enabled.contains("was not enabled") && not_enabled.ends_with(" 400"),
        "{not_enabled}"
    );
    assert!(
        post(r#"{"action": "finish_cluster"}"#, &admin).contains("Cluster is already finished")
    );

    let again = provision(d, &["couchdb"]).await;
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(
        again.stdout.matches(" changed=0 ").count(),
        3,
        "second run changes nothing:\n{}",
        again.stdout
    );
    assert_eq!(
        starts(&project, &nodes),
        started,
        "the second run restarted a node:\n{}",
        again.stdout
    );

    let up = provision(d, &["couchdb", "--count", "4"]).await;
    assert_eq!(up.status, 0, "{}\n{}", up.stdout, up.stderr);
    let ip4 = project
        .exec(&format!("{p}-couchdb-4"), "hostname -i")
        .trim()
        .to_string();
    assert!(
        up.stdout.contains(&format!(
            "join new nodes to the finished cluster (item={p}-couchdb-4)"
        )),
        "{}",
        up.stdout
    );
    assert_eq!(
        starts(&project, &nodes),
        started,
        "the scale-up restarted an old node:\n{}",
        up.stdout
    );
    let new_node = format!("{p}-couchdb-4");
    assert_eq!(
        session_user(&project, &coordinator, &ip4, &password),
        "admin"
    );
    assert_eq!(
        session_user(&project, &new_node, &ips[0], &password),
        "admin"
    );
    assert_eq!(
        couch(
            &project,
            &new_node,
            &password,
            "/_node/_local/_config/cluster/n"
        ),
        "3"
    );
    let members = couch(&project, &coordinator, &password, "/_membership");
    want.push(format!("couchdb@{ip4}"));
    want.sort();
    assert_eq!(sorted(&members["all_nodes"]), want, "{members}");
    assert_eq!(sorted(&members["cluster_nodes"]), want, "{members}");

    // No secret in anything provision printed, nor in the inventory.
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    for (name, value) in secrets.as_object().unwrap() {
        let value = value.as_str().unwrap();
        for (what, text) in [
            ("first stdout", &first.stdout),
            ("first stderr", &first.stderr),
            ("again stdout", &again.stdout),
            ("up stdout", &up.stdout),
            ("up stderr", &up.stderr),
            ("inventory", &inventory),
        ] {
            assert!(!text.contains(value), "{name} shows in the {what}");
        }
    }
}

#[tokio::test]
async fn one_node_gets_its_system_databases_and_one_copy_of_each_shard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let p = project.0.clone();
    let _server = configure(d, &p, r#"{"count": 1}"#, "").await;
    let first = provision(d, &["couchdb"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("secrets.json")).unwrap()).unwrap();
    let password = secrets["couchdb_admin_password"].as_str().unwrap();
    let node = vec![format!("{p}-couchdb-1")];
    for db in ["_users", "_replicator"] {
        assert_eq!(
            couch(&project, &node[0], password, &format!("/{db}"))["db_name"],
            db
        );
    }
    assert_eq!(
        couch(
            &project,
            &node[0],
            password,
            "/_node/_local/_config/cluster/n"
        ),
        "1"
    );
    let started = starts(&project, &node);
    let again = provision(d, &["couchdb"]).await;
    assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains(" changed=0 "), "{}", again.stdout);
    assert_eq!(starts(&project, &node), started, "{}", again.stdout);
}
