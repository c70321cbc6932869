//! `provision inventory` against what `ansible-inventory` printed for the same files
//! (tests/fixtures/inventory/*; regenerate with integration/ansible/expected.sh).

mod common;
use common::provision;
use std::path::Path;

fn fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".ini")
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 9, "fixtures present: {names:?}");
    names
}

fn expected(name: &str, suffix: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/inventory/{name}.{suffix}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn list_graph_and_host_match_ansible_inventory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory");
    for name in fixtures() {
        let ini = format!("{name}.ini");
        let list = provision(&dir, &["inventory", "-i", &ini, "--list"]).await;
        assert_eq!(list.status, 0, "{name}: {}", list.stderr);
        assert_eq!(
            list.stdout.trim_end(),
            expected(&name, "list.json").trim_end(),
            "{name} --list"
        );

        let graph = provision(&dir, &["inventory", "-i", &ini, "--graph"]).await;
        assert_eq!(
            graph.stdout.trim_end(),
            expected(&name, "graph.txt").trim_end(),
            "{name} --graph"
        );

        let hosts: serde_json::Value = serde_json::from_str(&expected(&name, "host.json")).unwrap();
        for (host, vars) in hosts.as_object().unwrap() {
            let out = provision(&dir, &["inventory", "-i", &ini, "--host", host]).await;
            assert_eq!(out.status, 0, "{name} --host {host}: {}", out.stderr);
            let ours: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(&ours, vars, "{name} --host {host}");
        }
    }
}

#[tokio::test]
async fn unknown_host_or_group_is_an_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory");
    let r = provision(
        &dir,
        &["inventory", "-i", "project.ini", "--host", "10.9.9.9"],
    )
    .await;
    assert_eq!(r.status, 3);
    assert!(
        r.stderr
            .contains("inventory project.ini has no host `10.9.9.9`"),
        "{}",
        r.stderr
    );
    let r = provision(&dir, &["inventory", "-i", "project.ini", "--graph", "nope"]).await;
    assert_eq!(r.status, 3);
    let r = provision(&dir, &["inventory", "-i", "project.ini"]).await;
    assert_eq!(r.status, 64, "one of --list, --graph, --host is required");
}

#[tokio::test]
async fn graph_from_a_group() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory");
    let r = provision(
        &dir,
        &["inventory", "-i", "project.ini", "--graph", "harvesters"],
    )
    .await;
    assert_eq!(
        r.stdout.trim_end(),
        "@harvesters:\n  |--@streamer:\n  |  |--115.146.85.20\n  |  |--115.146.85.21\n  |--@searcher:\n  |  |--115.146.85.30"
    );
}
