//! A write is whole or absent: a `copy` whose controller is killed (SIGKILL) in the middle of
//! sending the file leaves the destination with its old content and no temporary file behind.

mod common;
use common::*;
use std::time::{Duration, Instant};

const SIZE: usize = 96 * 1024 * 1024;

/// Bytes that do not compress, from a fixed seed (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test]
async fn a_copy_killed_midway_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("w1", &key).await;
    write_inventory(dir.path(), "app", &[&host], &key, "");
    let tasks = write_role(
        dir.path(),
        "app",
        "- name: big file\n  copy: {src: big.bin, dest: /home/ubuntu/data/big.bin}\n",
        &[],
    );
    let files = dir.path().join("roles/files");
    std::fs::create_dir_all(&files).unwrap();
    let big = noise(SIZE);
    std::fs::write(files.join("big.bin"), &big).unwrap();
    host.sh("mkdir -p /home/ubuntu/data && printf 'old content\\n' > /home/ubuntu/data/big.bin && chown -R ubuntu: /home/ubuntu/data")
        .await;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(["run", "app", "--tasks-dir", tasks.to_str().unwrap()])
        .current_dir(dir.path())
        .env("PROVISION_KNOWN_HOSTS", dir.path().join("known_hosts"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the host has received part of the file, not all of it.
    let started = Instant::now();
    let received = loop {
        let size = host
            .sh("stat -c %s /home/ubuntu/data/.provision.* 2>/dev/null | head -n 1")
            .await;
        if let Ok(n) = size.trim().parse::<usize>()
            && n > 0
        {
            child.start_kill().unwrap();
            break n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the copy never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "provision ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.wait().await.unwrap();
    assert!(received < SIZE, "the copy was complete before the kill");

    // The host's side of the write notices the cut and cleans up after itself.
    let started = Instant::now();
    loop {
        let left = host
            .sh("ls -A /home/ubuntu/data; pgrep -x cat >/dev/null && echo cat-running")
            .await;
        if left.trim() == "big.bin" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a temporary file is left behind: {left}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        host.sh("cat /home/ubuntu/data/big.bin").await,
        "old content\n",
        "the destination holds a part of the new file"
    );

    // A run that is not interrupted puts the whole file in place.
    let run = run_role(dir.path(), "app", &tasks, &[]).await;
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let sum = host
        .sh("sha256sum < /home/ubuntu/data/big.bin | cut -d' ' -f1")
        .await;
    use sha2::Digest;
    assert_eq!(sum.trim(), hex::encode(sha2::Sha256::digest(&big)));
    assert_eq!(host.sh("ls -A /home/ubuntu/data").await.trim(), "big.bin");
}
