//! wait_for on a real host: a port that opens later, a URL with the expected status, a timeout.

mod common;
use common::*;

#[tokio::test]
async fn waits_for_port_and_url_and_explains_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("w1", &key).await;
    write_inventory(dir.path(), "app", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "app",
        r#"
- name: server up
  wait_for: {port: 8080, timeout: 30}
- name: page served
  wait_for: {url: "http://127.0.0.1:8080/", status: [200], timeout: 10}
"#,
        &[],
    );
    // The server starts two seconds from now, after provision has begun waiting.
    host.sh("setsid sh -c 'sleep 2; cd /tmp && exec python3 -m http.server 8080' >/dev/null 2>&1 < /dev/null &").await;

    let check = run_role(dir.path(), "app", &tasks, &["--check"]).await;
    assert_eq!(check.status, 0);
    assert!(
        check
            .stdout
            .contains("skipping: [w1] server up: check mode: would run"),
        "{}",
        check.stdout
    );

    let run = run_role(dir.path(), "app", &tasks, &["-v"]).await;
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("w1 : ok=2 changed=0 failed=0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ok: [w1] page served"),
        "{}",
        run.stdout
    );

    std::fs::write(
        tasks.join("app.yml"),
        "- name: missing page\n  wait_for: {url: \"http://127.0.0.1:8080/nope\", timeout: 2}\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(r.status, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("http://127.0.0.1:8080/nope did not answer 200 within 2s (last status: 404)"),
        "{}",
        r.stdout
    );

    std::fs::write(
        tasks.join("app.yml"),
        "- name: no target\n  wait_for: {timeout: 2}\n",
    )
    .unwrap();
    let r = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(r.status, 3);
    assert!(
        r.stderr
            .contains("tasks/app.yml:2:3: wait_for needs `port` or `url`"),
        "{}",
        r.stderr
    );
}
