//! filesystem and mount on a block device attached to the host as /dev/vdb (a loop device on
//! this machine standing in for a cloud volume).

mod common;
use common::*;

const ROLE: &str = r#"
- name: filesystem on the volume
  filesystem: {dev: /dev/vdb, fstype: ext4}
  become: true
- name: data directory on the volume
  mount: {path: /data, src: /dev/vdb, fstype: ext4, opts: "defaults,nofail"}
  become: true
- name: a file on it
  copy: {dest: /data/marker, content: "on the volume\n"}
  become: true
"#;

#[tokio::test]
async fn volume_formatted_once_mounted_by_uuid_never_reformatted() {
    let dir = tempfile::tempdir().unwrap();
    let volume = LoopDevice::new(dir.path(), 64);
    let key = keygen(dir.path(), "ed25519");
    let host = start_host_with_volume("v1", &key, &volume.path).await;
    write_inventory(dir.path(), "db", &[&host], &key, "");
    let tasks = write_role(dir.path(), "db", ROLE, &[]);

    let check = run_role(dir.path(), "db", &tasks, &["--check"]).await;
    assert_eq!(check.status, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("would change: made ext4 on /dev/vdb"),
        "{}",
        check.stdout
    );
    assert_eq!(
        host.sh("blkid -p -o value -s TYPE /dev/vdb").await,
        "",
        "check mode made nothing"
    );

    let first = run_role(dir.path(), "db", &tasks, &["--diff"]).await;
    assert_eq!(first.status, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("v1 : ok=0 changed=3"),
        "{}",
        first.stdout
    );
    let uuid = host.sh("blkid -p -o value -s UUID /dev/vdb").await;
    let uuid = uuid.trim();
    assert!(!uuid.is_empty());
    assert!(
        first
            .stdout
            .contains(&format!("+UUID={uuid} /data ext4 defaults,nofail 0 2")),
        "the fstab diff: {}",
        first.stdout
    );
    assert_eq!(
        host.sh("grep ' /data ' /etc/fstab").await,
        format!("UUID={uuid} /data ext4 defaults,nofail 0 2\n")
    );
    assert_eq!(host.sh("findmnt -n -o FSTYPE /data").await, "ext4\n");
    assert_eq!(host.sh("cat /data/marker").await, "on the volume\n");

    let second = run_role(dir.path(), "db", &tasks, &["-v"]).await;
    assert!(
        second.stdout.contains("v1 : ok=3 changed=0"),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains(&format!("/dev/vdb already holds ext4 (UUID {uuid})")),
        "{}",
        second.stdout
    );

    // Asked for another filesystem type: refused, and the data is still there.
    std::fs::write(
        tasks.join("db.yml"),
        "- filesystem: {dev: /dev/vdb, fstype: ext3}\n  become: true\n",
    )
    .unwrap();
    let refused = run_role(dir.path(), "db", &tasks, &[]).await;
    assert_eq!(refused.status, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains(&format!(
            "/dev/vdb holds a ext4 filesystem (UUID {uuid}); refusing to make ext3 on it"
        )),
        "{}",
        refused.stdout
    );
    assert_eq!(host.sh("cat /data/marker").await, "on the volume\n");

    // Absent: unmounted and out of fstab; then nothing left to do.
    std::fs::write(
        tasks.join("db.yml"),
        "- mount: {path: /data, state: absent}\n  become: true\n",
    )
    .unwrap();
    let gone = run_role(dir.path(), "db", &tasks, &[]).await;
    assert!(
        gone.stdout.contains("unmounted /data; removed from fstab"),
        "{}",
        gone.stdout
    );
    assert_eq!(
        host.sh("grep -c ' /data ' /etc/fstab; findmnt /data").await,
        "0\n"
    );
    let again = run_role(dir.path(), "db", &tasks, &[]).await;
    assert!(
        again.stdout.contains("v1 : ok=1 changed=0"),
        "{}",
        again.stdout
    );
}
