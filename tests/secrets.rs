//! Secret values reach the hosts but never the output: not in progress lines, `--diff`,
//! `--json`, or a failed command's stderr.

mod common;
use common::*;

#[tokio::test]
async fn secrets_are_used_on_the_host_and_masked_everywhere_else() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("x1", &key).await;
    write_inventory(dir.path(), "app", &[&host], &key, "");
    let secret = "Zq8-very-secret-Password";
    let secrets = dir.path().join("secrets.json");
    std::fs::write(
        &secrets,
        format!("{{\"couchdb_admin_password\": \"{secret}\"}}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let tasks = write_role(
        dir.path(),
        "app",
        "- name: config with the password\n  copy: {dest: /tmp/app.conf, content: \"user=admin\\npassword={{ couchdb_admin_password }}\\n\"}\n- name: a command that prints it\n  shell: \"echo 'login failed for {{ couchdb_admin_password }}' >&2; exit 1\"\n",
        &[],
    );
    let secrets_arg = secrets.to_str().unwrap();
    let diff = run_role(
        dir.path(),
        "app",
        &tasks,
        &["--secrets", secrets_arg, "--diff", "-v"],
    )
    .await;
    assert_eq!(diff.status, 2, "{}\n{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout.contains("+password=********"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("login failed for ********"),
        "{}",
        diff.stdout
    );
    assert_eq!(
        host.sh("cat /tmp/app.conf").await,
        format!("user=admin\npassword={secret}\n")
    );
    let json = run_role(
        dir.path(),
        "app",
        &tasks,
        &["--secrets", secrets_arg, "--json"],
    )
    .await;
    assert!(
        json.stdout.contains("login failed for ********"),
        "{}",
        json.stdout
    );
    for run in [&diff, &json] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = run_role(dir.path(), "app", &tasks, &["--secrets", secrets_arg]).await;
    assert_eq!(open.status, 3, "{}", open.stderr);
    assert!(
        open.stderr.contains("is readable by others (mode 644)"),
        "{}",
        open.stderr
    );
}
