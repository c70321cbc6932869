//! `provision init`: a starting configure.json per cloud, never over an existing one.

mod common;
use common::*;

#[tokio::test]
async fn init_writes_a_configuration_that_loads_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = provision(d, &["init", "--cloud", "docker"]).await;
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("wrote configure.json for the docker cloud (project `demo`)"),
        "{}",
        r.stdout
    );
    let written = std::fs::read_to_string(d.join("configure.json")).unwrap();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configure.docker.json"),
    )
    .unwrap();
    assert_eq!(written, example);
    // The docker configuration works as written: the cloud commands read it.
    let list = provision(d, &["instance", "list", "--role", "nothing-here"]).await;
    assert_eq!(list.status, 0, "{}", list.stderr);
    assert!(list.stdout.starts_with("ID"), "{}", list.stdout);

    let again = provision(d, &["init", "--cloud", "ec2"]).await;
    assert_eq!(again.status, 3, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("exists already; init never overwrites it"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(d.join("configure.json")).unwrap(),
        example
    );

    let ec2 = provision(d, &["init", "--cloud", "ec2", "--config", "ec2.json"]).await;
    assert_eq!(ec2.status, 0, "{}", ec2.stderr);
    assert!(
        ec2.stdout.contains("for the ec2 cloud (project `group25`)"),
        "{}",
        ec2.stdout
    );

    let os = provision(d, &["init", "--cloud", "openstack", "--config", "os.json"]).await;
    assert_eq!(os.status, 0, "{}", os.stderr);
    assert!(
        os.stdout
            .contains("for the openstack cloud (project `group25`)")
            && os.stdout.contains("clouds.yaml"),
        "{}",
        os.stdout
    );
    assert_eq!(
        std::fs::read_to_string(d.join("os.json")).unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/configure.openstack.json")
        )
        .unwrap()
    );
}
