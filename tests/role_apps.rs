//! The built-in streamer, searcher and webserver roles on the Docker cloud, against a real git
//! repository of a tiny app (tests/fixtures/app) and a package index the test serves, and real
//! nginx from Debian's mirror.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=provision tests",
            "-c",
            "user.email=tests@provision.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The app's repository, served over git's dumb HTTP protocol from `serve/app.git`.
fn app_repository(dir: &Path, serve: &Path) -> std::path::PathBuf {
    let src = dir.join("app-src");
    std::fs::create_dir_all(&src).unwrap();
    for name in ["harvester.py", "web.py", "requirements.txt", "VERSION"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/app")
            .join(name);
        std::fs::copy(from, src.join(name)).unwrap();
    }
    git(&src, &["init", "-q", "-b", "main"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "v1"]);
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            "app-src",
            serve.join("app.git").to_str().unwrap(),
        ],
    );
    git(&serve.join("app.git"), &["update-server-info"]);
    src
}

async fn wait_for_file(
    project: &DockerProject,
    node: &str,
    path: &str,
    containing: &str,
) -> String {
    for _ in 0..100 {
        let text = project.exec(node, &format!("cat {path} 2>/dev/null"));
        if text.contains(containing) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{path} on {node} never held {containing}: {}",
        project.exec(
            node,
            "journalctl -n 40 --no-pager -u streamer -u searcher -u webapp 2>&1"
        )
    );
}

async fn wait_for_url(project: &DockerProject, node: &str, containing: &str) {
    for _ in 0..50 {
        if project
            .exec(node, "curl -s http://127.0.0.1/")
            .contains(containing)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nginx on {node} never answered with {containing}");
}

#[tokio::test]
async fn harvesters_and_load_balanced_web_app() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = DockerProject::new();
    let p = project.0.clone();
    let serve = d.join("serve");
    build_package_index(&serve, &[("provision-greeting", "1.0", &[])]);
    let src = app_repository(d, &serve);
    let (_server, ip) = start_web_server_on(&serve, Some(&format!("provision-{p}"))).await;
    std::fs::write(
        d.join("configure.json"),
        format!(
            r#"{{"project": "{p}", "cloud": "docker",
  "vars": {{"harvester_repo": "http://{ip}/app.git", "web_repo": "http://{ip}/app.git",
           "pip_index_url": "http://{ip}/simple/", "pip_extra_args": "--trusted-host {ip}"}}}}"#
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("secrets.json"),
        r#"{"twitter_credentials": [{"consumer_key": "ck-first-0d1e2f", "consumer_secret": "cs-first-9a8b7c"},
                           {"consumer_key": "ck-second-3c4d5e", "consumer_secret": "cs-second-6f5e4d"}]}"#,
    )
    .unwrap();
    std::fs::set_permissions(
        d.join("secrets.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // CouchDB hosts the harvesters write to (not deployed here: only their addresses are used).
    std::fs::write(
        d.join("inventory"),
        "[couchdb]\ndb-a private_ip=10.9.0.1\ndb-b private_ip=10.9.0.2\n",
    )
    .unwrap();

    let mut outputs = Vec::new();
    let streamer = provision(d, &["streamer", "--count", "2"]).await;
    assert_eq!(
        streamer.status, 0,
        "{}\n{}",
        streamer.stdout, streamer.stderr
    );
    for (n, key) in [(1, "ck-first-0d1e2f"), (2, "ck-second-3c4d5e")] {
        let status = wait_for_file(
            &project,
            &format!("{p}-streamer-{n}"),
            "/opt/harvester/streamer-status.json",
            "mode",
        )
        .await;
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["mode"], "stream");
        assert_eq!(status["host_index"], n - 1);
        assert_eq!(status["consumer_key"], key);
        assert_eq!(
            status["couchdb"],
            serde_json::json!(["http://10.9.0.1:5984", "http://10.9.0.2:5984"])
        );
        assert_eq!(status["greeting_version"], "1.0");
    }
    let searcher = provision(d, &["searcher", "--count", "1"]).await;
    assert_eq!(
        searcher.status, 0,
        "{}\n{}",
        searcher.stdout, searcher.stderr
    );
    let status = wait_for_file(
        &project,
        &format!("{p}-searcher-1"),
        "/opt/harvester/searcher-status.json",
        "mode",
    )
    .await;
    assert!(status.contains("\"mode\": \"search\""), "{status}");

    let web = provision(d, &["webserver", "--count", "2"]).await;
    assert_eq!(web.status, 0, "{}\n{}", web.stdout, web.stderr);
    // Through nginx on one host, the app on each host in turn.
    // A reload lets nginx's old workers finish first: wait until the new site answers.
    wait_for_url(&project, &format!("{p}-webserver-1"), "served by").await;
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..6 {
        served.insert(project.exec(&format!("{p}-webserver-1"), "curl -s http://127.0.0.1/"));
    }
    let expected: std::collections::BTreeSet<String> = (1..=2)
        .map(|n| format!("served by {p}-webserver-{n}\n"))
        .collect();
    assert_eq!(served, expected);
    outputs.extend([streamer, searcher, web]);

    // Second runs change nothing.
    for (role, hosts) in [("streamer", 2), ("searcher", 1), ("webserver", 2)] {
        let again = provision(d, &[role]).await;
        assert_eq!(again.status, 0, "{}\n{}", again.stdout, again.stderr);
        assert_eq!(
            again.stdout.matches(" changed=0 ").count(),
            hosts,
            "{role}:\n{}",
            again.stdout
        );
        outputs.push(again);
    }

    // New code: the harvesters move to it and restart.
    std::fs::write(src.join("VERSION"), "v2\n").unwrap();
    git(&src, &["commit", "-q", "-am", "v2"]);
    git(
        &src,
        &[
            "push",
            "-q",
            serve.join("app.git").to_str().unwrap(),
            "main",
        ],
    );
    git(&serve.join("app.git"), &["update-server-info"]);
    let moved = provision(d, &["streamer"]).await;
    assert_eq!(moved.status, 0, "{}\n{}", moved.stdout, moved.stderr);
    assert!(
        moved.stdout.contains("restart harvester: restarted"),
        "{}",
        moved.stdout
    );
    wait_for_file(
        &project,
        &format!("{p}-streamer-1"),
        "/opt/harvester/streamer-status.json",
        "\"v2\"",
    )
    .await;
    outputs.push(moved);

    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("secrets.json")).unwrap()).unwrap();
    let mut values = vec![
        secrets["couchdb_admin_password"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for c in secrets["twitter_credentials"].as_array().unwrap() {
        values.extend(
            c.as_object()
                .unwrap()
                .values()
                .map(|v| v.as_str().unwrap().to_string()),
        );
    }
    let inventory = std::fs::read_to_string(d.join("inventory")).unwrap();
    for v in &values {
        assert!(!inventory.contains(v.as_str()), "a secret in the inventory");
        for run in &outputs {
            assert!(
                !run.stdout.contains(v.as_str()) && !run.stderr.contains(v.as_str()),
                "a secret in the output:\n{}",
                run.stdout
            );
        }
    }
}
