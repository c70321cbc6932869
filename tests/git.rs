//! The git module on a real host, against a repository the test creates there.

mod common;
use common::*;

#[tokio::test]
async fn clone_stay_move_check_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("g1", &key).await;
    let inventory = write_inventory(dir.path(), "app", &[&host], &key, "");
    let text = std::fs::read_to_string(&inventory).unwrap();
    std::fs::write(&inventory, format!("{text}\n[tools:children]\napp\n")).unwrap();
    let tasks = write_role(
        dir.path(),
        "tools",
        "- apt: {packages: git, update_cache: true}\n  become: true\n",
        &[],
    );
    let tools = run_role(dir.path(), "tools", &tasks, &[]).await;
    assert_eq!(tools.status, 0, "{}", tools.stdout);

    let made = host
        .sh(
            "set -e; export HOME=/tmp; git config --global user.email t@example.org; git config --global user.name t; \
             git init -q --bare /srv/app.git; git clone -q /srv/app.git /tmp/work; cd /tmp/work; \
             echo one > f; git add f; git commit -qm one; git tag -a v1 -m v1; \
             echo two > f; git commit -qam two; git push -q origin HEAD:main --tags; \
             git -C /srv/app.git symbolic-ref HEAD refs/heads/main; chown -R ubuntu /srv/app.git; \
             git rev-parse v1^{} HEAD",
        )
        .await;
    let shas: Vec<&str> = made.lines().collect();
    assert_eq!(shas.len(), 2, "{made}");
    let (v1, main) = (shas[0].to_string(), shas[1].to_string());

    let role = |version: &str, repo: &str| {
        std::fs::write(
            tasks.join("app.yml"),
            format!("- name: app code\n  git: {{repo: {repo}, dest: /home/ubuntu/app, version: {version}}}\n"),
        )
        .unwrap();
    };
    role("v1", "/srv/app.git");
    let first = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(first.status, 0, "{}", first.stdout);
    assert!(
        first.stdout.contains(&format!("cloned at {}", &v1[..10])),
        "{}",
        first.stdout
    );
    assert_eq!(
        host.sh("git -c safe.directory='*' -C /home/ubuntu/app rev-parse HEAD")
            .await
            .trim(),
        v1
    );

    let again = run_role(dir.path(), "app", &tasks, &[]).await;
    assert!(
        again.stdout.contains("g1 : ok=1 changed=0"),
        "{}",
        again.stdout
    );

    role("main", "/srv/app.git");
    let check = run_role(dir.path(), "app", &tasks, &["--check"]).await;
    assert!(
        check
            .stdout
            .contains(&format!("would change: {} -> {}", &v1[..10], &main[..10])),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("git -c safe.directory='*' -C /home/ubuntu/app rev-parse HEAD")
            .await
            .trim(),
        v1,
        "check mode moves nothing"
    );
    let moved = run_role(dir.path(), "app", &tasks, &[]).await;
    assert!(
        moved
            .stdout
            .contains(&format!("{} -> {}", &v1[..10], &main[..10])),
        "{}",
        moved.stdout
    );
    assert_eq!(host.sh("cat /home/ubuntu/app/f").await.trim(), "two");

    role("main", "/srv/nowhere.git");
    let unreachable = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(unreachable.status, 2);
    assert!(
        unreachable
            .stdout
            .contains("cannot reach repository /srv/nowhere.git"),
        "{}",
        unreachable.stdout
    );

    host.sh("git init -q --bare /srv/other.git && chown -R ubuntu /srv/other.git")
        .await;
    role("main", "/srv/other.git");
    let other = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(other.status, 2);
    assert!(
        other
            .stdout
            .contains("version `main` is not a branch or tag of /srv/other.git"),
        "{}",
        other.stdout
    );
}
