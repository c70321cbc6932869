//! Instance, volume and snapshot commands against a real EC2 API server (moto).

mod common;
use common::Run;
use common::moto::{Moto, cloud, write_config};

fn ok(run: &Run) -> &Run {
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

fn ids(run: &Run) -> Vec<String> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn launch_list_filter_and_terminate() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &moto.endpoint);
    let d = dir.path();

    // Count from configure.json (roles.couchdb.count = 2), tagged and named.
    let couch = ok(&cloud(d, &["instance", "launch", "--role", "couchdb", "--json"]).await).json();
    let couch = couch.as_array().unwrap();
    assert_eq!(couch.len(), 2);
    for (n, i) in couch.iter().enumerate() {
        assert_eq!(i["state"], "running");
        assert_eq!(i["role"], "couchdb");
        assert_eq!(i["project"], "group25");
        assert_eq!(i["name"], format!("group25-couchdb-{}", n + 1));
        assert_eq!(i["zone"], "us-east-1a");
        assert_eq!(i["instance_type"], "t2.micro");
        assert!(!i["private_ip"].as_str().unwrap().is_empty());
    }
    let streamer = ids(ok(&cloud(
        d,
        &[
            "instance", "launch", "--role", "streamer", "--count", "1", "--json",
        ],
    )
    .await));
    assert_eq!(streamer.len(), 1);

    let all = ids(ok(&cloud(d, &["instance", "list", "--json"]).await));
    assert_eq!(all.len(), 3);
    let only_couch = ids(ok(&cloud(
        d,
        &["instance", "list", "--role", "couchdb", "--json"],
    )
    .await));
    assert_eq!(
        only_couch,
        couch
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );

    let table = ok(&cloud(d, &["instance", "list"]).await).stdout.clone();
    let header = table.lines().next().unwrap();
    for col in [
        "ID",
        "NAME",
        "ROLE",
        "STATE",
        "TYPE",
        "PRIVATE IP",
        "PUBLIC IP",
        "ZONE",
        "LAUNCHED",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.contains("group25-streamer-1"), "{table}");

    // Without --yes and without a terminal to ask on, nothing is terminated.
    let refused = cloud(d, &["instance", "terminate", &streamer[0]]).await;
    assert_eq!(refused.status, 5, "{}", refused.stderr);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);

    let done = ok(&cloud(d, &["instance", "terminate", &streamer[0], "--yes"]).await)
        .stdout
        .clone();
    assert_eq!(done.trim(), format!("terminated {}", streamer[0]));
    let after = ok(&cloud(d, &["instance", "list", "--json"]).await).json();
    for i in after.as_array().unwrap() {
        let expected = if i["id"] == streamer[0].as_str() {
            "terminated"
        } else {
            "running"
        };
        assert_eq!(i["state"], expected);
    }

    // A further launch continues the numbering.
    let more = ok(&cloud(
        d,
        &[
            "instance", "launch", "--role", "couchdb", "--count", "1", "--json",
        ],
    )
    .await)
    .json();
    assert_eq!(more[0]["name"], "group25-couchdb-3");
}

#[tokio::test]
async fn stop_start_reboot() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &moto.endpoint);
    let d = dir.path();
    let id = ids(ok(&cloud(
        d,
        &["instance", "launch", "--role", "web", "--json"],
    )
    .await))
    .remove(0);
    assert_eq!(
        ok(&cloud(d, &["instance", "stop", &id]).await)
            .stdout
            .trim(),
        format!("stopped {id}")
    );
    let state = ok(&cloud(d, &["instance", "list", "--json"]).await).json()[0]["state"].clone();
    assert_eq!(state, "stopped");
    assert_eq!(
        ok(&cloud(d, &["instance", "start", &id]).await)
            .stdout
            .trim(),
        format!("running {id}")
    );
    assert_eq!(
        ok(&cloud(d, &["instance", "reboot", &id]).await)
            .stdout
            .trim(),
        format!("rebooting {id}")
    );
    let state = ok(&cloud(d, &["instance", "list", "--json"]).await).json()[0]["state"].clone();
    assert_eq!(state, "running");
}

#[tokio::test]
async fn volumes_attach_detach_snapshots_delete() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &moto.endpoint);
    let d = dir.path();
    let instance = ids(ok(&cloud(
        d,
        &[
            "instance", "launch", "--role", "couchdb", "--count", "1", "--json",
        ],
    )
    .await))
    .remove(0);

    // controller.py attach volume 40 i-…
    let out = ok(&cloud(d, &["volume", "attach", "--size", "40", &instance]).await)
        .stdout
        .clone();
    let volume = out.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(
        out.trim(),
        format!("attached {volume} (40 GiB) to {instance} at /dev/vdc")
    );
    let listed = ok(&cloud(d, &["volume", "list", "--json"]).await).json();
    let v = &listed
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == volume.as_str())
        .unwrap()
        .clone();
    assert_eq!(v["state"], "in-use");
    assert_eq!(v["attached_to"], instance.as_str());
    assert_eq!(v["size_gib"], 40);
    assert_eq!(
        v["role"], "couchdb",
        "the volume carries its instance's role"
    );
    assert_eq!(v["zone"], "us-east-1a");

    let snap_out = ok(&cloud(
        d,
        &[
            "snapshot",
            "create",
            &volume,
            "--description",
            "before upgrade",
        ],
    )
    .await)
    .stdout
    .clone();
    let snap = snap_out.split_whitespace().nth(1).unwrap().to_string();
    assert!(snap.starts_with("snap-"), "{snap_out}");
    let snaps = ok(&cloud(d, &["snapshot", "list", "--json"]).await).json();
    let s = snaps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == snap.as_str())
        .expect("snapshot listed")
        .clone();
    assert_eq!(s["volume_id"], volume.as_str());
    assert_eq!(s["description"], "before upgrade");
    assert!(
        ok(&cloud(d, &["snapshot", "list"]).await)
            .stdout
            .contains(&snap)
    );
    ok(&cloud(d, &["snapshot", "delete", &snap]).await);
    let snaps = ok(&cloud(d, &["snapshot", "list", "--json"]).await).json();
    assert!(
        !snaps
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == snap.as_str())
    );

    assert_eq!(
        ok(&cloud(d, &["volume", "detach", &volume]).await)
            .stdout
            .trim(),
        format!("detached {volume} from {instance}")
    );
    let table = ok(&cloud(d, &["volume", "list"]).await).stdout.clone();
    let row = table
        .lines()
        .find(|l| l.starts_with(&volume))
        .unwrap()
        .to_string();
    assert!(row.contains("available") && row.contains("40 GiB"), "{row}");
    assert_eq!(
        ok(&cloud(d, &["volume", "delete", &volume]).await)
            .stdout
            .trim(),
        format!("deleted {volume}")
    );
    let listed = ok(&cloud(d, &["volume", "list", "--json"]).await).json();
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == volume.as_str())
    );

    let created = ok(&cloud(d, &["volume", "create", "--size", "5"]).await)
        .stdout
        .clone();
    assert!(
        created.starts_with("created vol-") && created.contains("(5 GiB) in us-east-1a"),
        "{created}"
    );
}

#[tokio::test]
async fn api_errors_show_code_message_and_hint() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto.endpoint);
    let d = dir.path();

    let unknown = cloud(
        d,
        &["instance", "terminate", "i-0123456789abcdef0", "--yes"],
    )
    .await;
    assert_eq!(unknown.status, 1);
    assert!(
        unknown
            .stderr
            .contains("DescribeInstances: InvalidInstanceID.NotFound"),
        "{}",
        unknown.stderr
    );
    assert!(
        unknown.stderr.contains("hint: check the instance id"),
        "{}",
        unknown.stderr
    );

    let bad_volume = cloud(d, &["snapshot", "create", "vol-0123456789abcdef0"]).await;
    assert_eq!(bad_volume.status, 1);
    assert!(
        bad_volume
            .stderr
            .contains("CreateSnapshot: InvalidVolume.NotFound"),
        "{}",
        bad_volume.stderr
    );

    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("ami-12c6146b", "ami-00000000");
    std::fs::write(&config, text).unwrap();
    let bad_image = cloud(d, &["instance", "launch", "--role", "couchdb"]).await;
    assert_eq!(bad_image.status, 1);
    assert!(
        bad_image
            .stderr
            .contains("RunInstances: InvalidAMIID.NotFound"),
        "{}",
        bad_image.stderr
    );
    assert!(
        bad_image
            .stderr
            .contains("hint: check instances.image_id in configure.json"),
        "{}",
        bad_image.stderr
    );
    assert!(
        !bad_image.stderr.contains("SdkError") && !bad_image.stderr.contains("{"),
        "no debug dump: {}",
        bad_image.stderr
    );
}

#[tokio::test]
async fn bad_credentials_are_refused_with_a_hint() {
    let moto = Moto::start(true);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &moto.endpoint);
    let r = cloud(dir.path(), &["instance", "list"]).await;
    assert_eq!(r.status, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("DescribeInstances: AuthFailure"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: check your credentials"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn nothing_reaches_the_cloud_before_input_is_valid() {
    // The endpoint is a closed port: any API call would fail with "cannot reach".
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:1");
    let d = dir.path();

    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("\"ssh_user\"", "\"ssh_usr\"")).unwrap();
    let r = cloud(d, &["instance", "list"]).await;
    assert_eq!(r.status, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("configure.json:5:75: instances.ssh_usr: unknown field `ssh_usr`"),
        "{}",
        r.stderr
    );

    std::fs::write(&config, &text).unwrap();
    std::fs::remove_file(d.join("group25.pem")).unwrap();
    let r = cloud(d, &["instance", "launch", "--role", "couchdb"]).await;
    assert_eq!(r.status, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("group25.pem") && r.stderr.contains("does not exist"),
        "{}",
        r.stderr
    );

    let r = cloud(d, &["instance", "list"]).await;
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("cannot reach the EC2 endpoint http://127.0.0.1:1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("hint: check cloud.endpoint"),
        "{}",
        r.stderr
    );

    let r = cloud(d, &["instance", "list", "--config", "missing.json"]).await;
    assert_eq!(r.status, 3);
    assert!(
        r.stderr.contains("cannot read missing.json"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn missing_credentials_are_named_as_such() {
    let moto = Moto::start(false);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &moto.endpoint);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["instance", "list"])
        .current_dir(dir.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("DescribeInstances: NoCredentials: no credentials could be loaded"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check your credentials"), "{stderr}");
}

/// An endpoint that accepts connections and never answers: the call gives up after
/// `cloud.timeout` (three times that with retries) and names the endpoint, instead of hanging.
#[tokio::test]
async fn a_silent_endpoint_times_out_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Accepts, holds every connection open, answers nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &endpoint);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        r#""region": "us-east-1","#,
        r#""region": "us-east-1", "timeout": 1,"#,
    );
    std::fs::write(&config, text).unwrap();
    let started = std::time::Instant::now();
    let r = cloud(dir.path(), &["instance", "list"]).await;
    let took = started.elapsed();
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "DescribeInstances: cannot reach the EC2 endpoint {endpoint}: request has timed out"
        )),
        "{}",
        r.stderr
    );
    assert!(
        took < std::time::Duration::from_secs(20),
        "gave up after {took:?}"
    );
}
