//! Secrets are masked in every form provision prints them in: JSON-escaped in `--json`,
//! shell-quoted, and line by line (a multi-line key in `--diff` and in a failed command's
//! stderr). Secrets too short to be masked are refused by key path, never shown.

mod common;
use common::*;

const QUOTED: &str = r#"Pa"ss\wo'rd-42"#;
const PEM: &str = "-----BEGIN PROVISION TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n0mHvLq8yq2pZz7Gv1T4dYw0b\n-----END PROVISION TEST KEY-----\n";

/// The ways a secret could show: as it is, JSON-escaped, shell-escaped, and each line of it.
fn leaks(text: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for secret in [QUOTED, PEM] {
        let mut pieces = vec![secret.to_string()];
        pieces.extend(secret.lines().map(String::from));
        for p in pieces {
            let json = serde_json::to_string(&p).unwrap();
            let escaped = json[1..json.len() - 1].to_string();
            // The templates' `tojson` also escapes what HTML would read.
            forms.push(escaped.replace('\'', "\\u0027"));
            forms.push(escaped);
            forms.push(p.replace('\'', r"'\''"));
            forms.push(p);
        }
    }
    forms
        .into_iter()
        .filter(|f| text.contains(f.as_str()))
        .collect()
}

#[tokio::test]
async fn secrets_with_quotes_and_lines_never_show_in_any_encoding() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("s1", &key).await;
    write_inventory(dir.path(), "app", &[&host], &key, "");
    let secrets = dir.path().join("secrets.json");
    let write_secrets = |value: serde_json::Value| {
        std::fs::write(&secrets, value.to_string()).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_secrets(serde_json::json!({"db_password": QUOTED, "tls_key": PEM}));
    let tasks = write_role(
        dir.path(),
        "app",
        "- name: config\n  copy: {dest: \"/tmp/app-{{ run_id }}.conf\", content: \"password={{ db_password }}\\n{{ tls_key }}\"}\n\
         - name: a command that prints them\n  command: \"sh -c 'cat /tmp/app-{{ run_id }}.conf >&2; exit 3' {{ db_password | tojson }}\"\n",
        &[],
    );
    let secrets_arg = secrets.to_str().unwrap();
    let diff = run_role(
        dir.path(),
        "app",
        &tasks,
        &["--secrets", secrets_arg, "--diff", "-v", "-e", "run_id=1"],
    )
    .await;
    let json = run_role(
        dir.path(),
        "app",
        &tasks,
        &[
            "--secrets",
            secrets_arg,
            "--diff",
            "--json",
            "-e",
            "run_id=2",
        ],
    )
    .await;
    for run in [&diff, &json] {
        assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
        let all = format!("{}\n{}", run.stdout, run.stderr);
        assert_eq!(leaks(&all), Vec::<String>::new(), "{all}");
    }
    // The secrets reached the host as they are, and the output shows where they were masked.
    assert_eq!(
        host.sh("cat /tmp/app-1.conf").await,
        format!("password={QUOTED}\n{PEM}")
    );
    assert!(
        diff.stdout.contains("+password=********"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("+********\n"), "{}", diff.stdout);
    let report = json.json();
    let tasks_run = report["hosts"][0]["tasks"].as_array().unwrap();
    assert!(
        tasks_run[0]["diff"]
            .as_str()
            .unwrap()
            .contains("+password=********"),
        "{}",
        json.stdout
    );
    let failure = tasks_run[1]["message"].as_str().unwrap();
    assert!(failure.contains("exit status 3"), "{failure}");
    assert!(failure.contains("********"), "{failure}");

    // A secret too short to mask is refused, naming where it is and not what it is.
    write_secrets(serde_json::json!({"api": [{"key": "Zx9"}]}));
    let short = run_role(dir.path(), "app", &tasks, &["--secrets", secrets_arg]).await;
    assert_ne!(short.status, 0);
    assert!(
        short.stderr.contains(
            "api[0].key: 3 characters; a secret must have at least 6 so it can be masked everywhere"
        ),
        "{}",
        short.stderr
    );
    assert!(!short.stderr.contains("Zx9"), "{}", short.stderr);
}
