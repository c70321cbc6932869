//! The uri module against a small JSON API on the host: a GET registers state, a POST runs only
//! when that state says so, and the password never shows in the output.

mod common;
use common::*;

const API: &str = include_str!("fixtures/items_api.py");

const ROLE: &str = r#"
- name: how many items
  uri: {url: "http://127.0.0.1:8080/items"}
  register: listing
- name: add the first item
  uri:
    url: http://127.0.0.1:8080/items
    method: POST
    body: {name: "{{ item_name }}", tags: [a, b]}
    user: admin
    password: "{{ api_password }}"
    status_code: 201
  register: created
  when: listing.json.count == 0
- name: remember what was stored
  copy: {dest: /tmp/stored, content: "{{ created.json.stored.name }} {{ created.status }}\n"}
  when: not created.skipped
"#;

async fn start_api(host: &Host) {
    host.sh(&format!(
        "cat > /tmp/api.py <<'PY'\n{API}\nPY\nnohup python3 /tmp/api.py 8080 >/tmp/api.log 2>&1 &"
    ))
    .await;
    for _ in 0..50 {
        if host
            .sh("curl -s http://127.0.0.1:8080/items")
            .await
            .contains("count")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the test API did not start: {}",
        host.sh("cat /tmp/api.log").await
    );
}

#[tokio::test]
async fn get_registers_post_acts_once_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("u1", &key).await;
    start_api(&host).await;
    write_inventory(dir.path(), "api", &[&host], &key, "item_name=first\n");
    let tasks = write_role(dir.path(), "api", ROLE, &[]);
    let secret = ["-e", "api_password=s3cret"];

    // Check mode reads (the GET runs) but does not POST.
    let check = run_role(
        dir.path(),
        "api",
        &tasks,
        &[&secret[..], &["--check", "-v"]].concat(),
    )
    .await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("would change: POST"),
        "{}",
        check.stdout
    );
    assert!(
        host.sh("curl -s http://127.0.0.1:8080/items")
            .await
            .contains("\"count\": 0")
    );

    let first = run_role(dir.path(), "api", &tasks, &[&secret[..], &["-v"]].concat()).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(host.sh("cat /tmp/stored").await, "first 201\n");
    let listing = host.sh("curl -s http://127.0.0.1:8080/items").await;
    assert!(
        listing.contains(r#"{"name": "first", "tags": ["a", "b"]}"#),
        "{listing}"
    );

    let second = run_role(
        dir.path(),
        "api",
        &tasks,
        &[&secret[..], &["--json"]].concat(),
    )
    .await;
    assert_eq!(second.status, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(stats(&second)[0].2, 0, "nothing changes: {}", second.stdout);
    assert!(
        host.sh("curl -s http://127.0.0.1:8080/items")
            .await
            .contains("\"count\": 1")
    );

    // A wrong password: the API's answer is shown, the password is not.
    host.sh("pkill -f api.py; sleep 0.2").await;
    start_api(&host).await;
    let wrong = run_role(
        dir.path(),
        "api",
        &tasks,
        &["-e", "api_password=wr0ng-pass"],
    )
    .await;
    assert_eq!(wrong.status, 2, "{}\n{}", wrong.stdout, wrong.stderr);
    assert!(
        wrong.stdout.contains(
            r#"POST http://127.0.0.1:8080/items answered 401 (expected 201): {"error": "unauthorized"}"#
        ),
        "{}",
        wrong.stdout
    );
    for run in [&check, &first, &second, &wrong] {
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains("s3cret") && !text.contains("wr0ng-pass"),
                "{text}"
            );
        }
    }
}
