//! The built-in couchdb role on the Docker cloud, against a STAND-IN couchdb package (a small
//! HTTP server implementing the CouchDB 3 endpoints the role uses, strictly; see
//! tests/fixtures/couchdb-standin/) served from a signed apt repository of our own, since the
//! Apache repository cannot be reached from here and CouchDB is not in Debian.

mod common;
use common::*;
use std::path::Path;

const STANDIN: &str = include_str!("fixtures/couchdb-standin/couchdb-standin.py");
const POSTINST: &str = include_str!("fixtures/couchdb-standin/postinst");
const TEMPLATES: &str = include_str!("fixtures/couchdb-standin/templates");
const UNIT: &str = include_str!("fixtures/couchdb-standin/couchdb.service");

fn standin_repository(dir: &Path) -> std::path::PathBuf {
    let package = package_dir_with(
        dir,
        "couchdb",
        "3.3.3~standin",
        "Depends: python3, debconf\n",
        &[
            ("/opt/couchdb/bin/couchdb-standin.py", STANDIN),
            ("/lib/systemd/system/couchdb.service", UNIT),
            ("DEBIAN/postinst", POSTINST),
            ("DEBIAN/templates", TEMPLATES),
        ],
    );
    let repo = dir.join("repo");
    build_apt_repository_for(&repo, "bookworm", &[package]);
    repo
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
    let repo = standin_repository(d);
    let (_server, repo_ip) = start_web_server_on(&repo, Some(&format!("provision-{p}"))).await;
    std::fs::write(
        d.join("configure.json"),
        format!(
            r#"{{"project": "{p}", "cloud": "docker",
  "roles": {{"couchdb": {{"count": 3, "volume": {{"size": 40}}}}}},
  "vars": {{"couchdb_repo_url": "http://{repo_ip}/", "couchdb_repo_key_url": "http://{repo_ip}/key.asc",
           "couchdb_databases": ["tweets", "users"]}}}}"#
        ),
    )
    .unwrap();

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
    // Every node has the shared settings and its own node name; the data lives on the data path.
    for (n, ip) in ips.iter().enumerate() {
        let node = format!("{p}-couchdb-{}", n + 1);
        let vm_args = project.exec(&node, "cat /opt/couchdb/etc/vm.args");
        assert!(
            vm_args.contains(&format!("-name couchdb@{ip}\n")),
            "{vm_args}"
        );
        assert!(
            vm_args.contains("-kernel inet_dist_listen_min 9100"),
            "{vm_args}"
        );
        assert_eq!(project.exec(&node, "stat -c %U /data/couchdb"), "couchdb\n");
    }

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
