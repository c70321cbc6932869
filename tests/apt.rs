//! The apt module installing and removing real packages from Debian's mirror on a test host.

mod common;
use common::*;

#[tokio::test]
async fn install_is_idempotent_lists_refresh_once_check_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("a1", &key).await;
    write_inventory(dir.path(), "pkg", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "pkg",
        "- name: tools\n  apt: {packages: [hello, '{{ extra }}'], update_cache: true, cache_valid_time: 3600}\n  become: true\n",
        &[],
    );

    let check = run_role(dir.path(), "pkg", &tasks, &["-e", "extra=tree", "--check"]).await;
    assert_eq!(check.status, 0, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("would change: package lists refreshed; installed hello, tree"),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("dpkg-query -W hello 2>&1 | grep -c 'no packages found'")
            .await
            .trim(),
        "1"
    );

    let first = run_role(dir.path(), "pkg", &tasks, &["-e", "extra=tree"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("a1 : ok=0 changed=1"),
        "{}",
        first.stdout
    );
    assert_eq!(host.sh("hello").await.trim(), "Hello, world!");
    let stamp = host
        .sh("stat -c %Y /var/lib/apt/periodic/update-success-stamp")
        .await;

    let second = run_role(dir.path(), "pkg", &tasks, &["-e", "extra=tree", "-v"]).await;
    assert!(
        second.stdout.contains("a1 : ok=1 changed=0"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("hello, tree installed"),
        "{}",
        second.stdout
    );
    assert_eq!(
        host.sh("stat -c %Y /var/lib/apt/periodic/update-success-stamp")
            .await,
        stamp,
        "lists not refreshed again"
    );

    std::fs::write(
        tasks.join("pkg.yml"),
        "- apt: {packages: tree, state: absent}\n  become: true\n",
    )
    .unwrap();
    let removed = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert!(
        removed.stdout.contains("removed tree"),
        "{}",
        removed.stdout
    );
    let status = host.sh("dpkg-query -W -f='${Status}' tree 2>&1").await;
    assert!(!status.contains("install ok installed"), "{status}");

    std::fs::write(
        tasks.join("pkg.yml"),
        "- apt: {packages: no-such-package-provision}\n  become: true\n",
    )
    .unwrap();
    let missing = run_role(dir.path(), "pkg", &tasks, &[]).await;
    assert_eq!(missing.status, 2, "{}", missing.stdout);
    assert!(
        missing
            .stdout
            .contains("Unable to locate package no-such-package-provision"),
        "{}",
        missing.stdout
    );
}
