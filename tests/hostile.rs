//! Hostile strings through every module's paths and arguments, on a real host with a canary:
//! each value is applied literally (the file is at exactly that name with exactly that content,
//! the link points at exactly that target…) or refused with an error, and no value ever runs a
//! command (the canary file never appears). The values are a fixed corpus, every character
//! U+0001..U+00FF, and strings from a seeded generator, so a failure reproduces. They reach the
//! tasks as variables (`-e @vars.json`); variables are themselves templates, so no value holds
//! template syntax (`{{`, `{%`, `{#`).

mod common;
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

const CANARY: &str = "/tmp/CANARY";

fn corpus() -> Vec<String> {
    let c = CANARY;
    let mut v: Vec<String> = [
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("';touch {c};'"),
        format!("\";touch {c};\""),
        format!("a;touch {c}"),
        format!("a && touch {c}"),
        format!("a || touch {c}"),
        format!("a | touch {c}"),
        format!("a\ntouch {c}\n"),
        format!("$(touch${{IFS}}{c})"),
        format!("${{IFS}}touch${{IFS}}{c}"),
        format!("x'$(touch {c})'"),
        format!("x\"$(touch {c})\""),
        format!("x\\\"$(touch {c})"),
        format!("--upload-pack=touch {c}"),
        format!("--output={c}"),
        format!("-oAPT::Update::Pre-Invoke::=touch {c}"),
        format!("web1$(touch${{IFS}}{c})"),
    ]
    .into_iter()
    .collect();
    v.extend(
        [
            "-x",
            "--",
            "-",
            "--help",
            "-rf",
            "with space",
            " lead",
            "trail ",
            "tab\there",
            "quote'single",
            "quote\"double",
            "back\\slash",
            "trailing\\",
            "ünïcødé ✓ 日本",
            "🦀 crab",
            "\u{202e}rtl",
            "$HOME",
            "${HOME}",
            "~root",
            "*",
            "?",
            "[a]",
            "{a,b}",
            "%s%n",
            "a=b",
            "#comment",
            "!",
            ">x",
            "<x",
            "&",
            "x\r",
            "{a}{b}",
            "a:b",
            "a..b",
            "@{u}",
            "^{}",
            "a\u{85}b",
            "a\u{2028}b",
            "\u{feff}bom",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

/// Every character U+0001..U+00FF, each inside a word of its own.
fn every_character() -> Vec<String> {
    (1u8..=255)
        .map(|b| format!("c{b:03}{}z", char::from(b)))
        .collect()
}

/// Strings from a fixed seed: pieces of shell syntax, bytes and unicode run together.
fn generated(seed: u64, count: usize) -> Vec<String> {
    const PIECES: &[&str] = &[
        "$(",
        ")",
        "`",
        "'",
        "\"",
        ";",
        "&&",
        "|",
        "\n",
        "${IFS}",
        "-",
        "--",
        " ",
        "\\",
        "$",
        "touch /tmp/CANARY",
        "é",
        "日",
        "\t",
        "*",
        "=",
        ":",
        "a",
        "b",
        "{",
        "}",
        "#",
        "~",
        ">",
    ];
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|i| {
            let len = 1 + (next() % 8) as usize;
            let mut s = format!("g{i}");
            for _ in 0..len {
                if next() % 3 == 0 {
                    s.push(char::from(1 + (next() % 255) as u8));
                } else {
                    s.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                }
            }
            s
        })
        .collect()
}

fn all_values() -> Vec<String> {
    let mut v = corpus();
    v.extend(every_character());
    v.extend(generated(0x5eed_1234_abcd_0001, 30));
    let everything: String = (1u8..=255).map(char::from).collect();
    v.push(everything);
    v
}

/// Values for contexts where most are refused or fail (each costs a run): no per-character set.
fn few_values() -> Vec<String> {
    let mut v = corpus();
    v.extend(generated(0x5eed_1234_abcd_0002, 8));
    v.push((1u8..=255).map(char::from).collect());
    v
}

/// A value that can be one name in a directory.
fn file_name(v: &str) -> bool {
    !v.is_empty() && !v.contains('/') && v != "." && v != ".." && v.len() <= 200
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Applied,
    Refused(String),
    Failed(String),
}

struct Runner<'a> {
    dir: &'a Path,
    tasks: std::path::PathBuf,
    inventory_args: Vec<String>,
}

impl Runner<'_> {
    /// Runs one task per value (`line(i)` is the task for value i, named `t{i}`) until each is
    /// applied, refused before the run, or failed on the host; a refused or failed task is taken
    /// out and the others run again.
    async fn settle(
        &self,
        label: &str,
        values: &[String],
        line: impl Fn(usize) -> String,
    ) -> Vec<Outcome> {
        std::fs::write(
            self.dir.join("vars.json"),
            json!({ "v": values }).to_string(),
        )
        .unwrap();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; values.len()];
        loop {
            let remaining: Vec<usize> = (0..values.len())
                .filter(|i| outcomes[*i].is_none())
                .collect();
            if remaining.is_empty() {
                break;
            }
            let text: String = remaining.iter().map(|i| line(*i) + "\n").collect();
            std::fs::write(self.tasks.join("hostile.yml"), text).unwrap();
            let mut args: Vec<&str> = vec!["--json", "-e", "@vars.json"];
            args.extend(self.inventory_args.iter().map(String::as_str));
            let run = run_role(self.dir, "hostile", &self.tasks, &args).await;
            match run.status {
                0 => {
                    for i in remaining {
                        outcomes[i] = Some(Outcome::Applied);
                    }
                }
                3 => {
                    let at = run
                        .stderr
                        .split_once("hostile.yml:")
                        .and_then(|(_, rest)| rest.split(':').next()?.parse::<usize>().ok())
                        .unwrap_or_else(|| {
                            panic!("{label}: a refusal names no line: {}", run.stderr)
                        });
                    outcomes[remaining[at - 1]] = Some(Outcome::Refused(run.stderr.clone()));
                }
                2 => {
                    let report = run.json();
                    let failed = report["hosts"][0]["tasks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|t| t["status"] == "failed")
                        .unwrap_or_else(|| panic!("{label}: no failed task in {}", run.stdout));
                    let name = failed["name"].as_str().unwrap();
                    let i: usize = name[1..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap_or_else(|_| panic!("{label}: task `{name}`"));
                    assert!(
                        outcomes[i].is_none(),
                        "{label}: t{i} failed again: {}",
                        run.stdout
                    );
                    outcomes[i] = Some(Outcome::Failed(failed["message"].to_string()));
                }
                other => panic!("{label}: exit {other}\n{}\n{}", run.stdout, run.stderr),
            }
        }
        outcomes.into_iter().map(Option::unwrap).collect()
    }
}

/// What a directory on the host holds: name -> ("file", content) / ("dir", "") / ("link", target).
async fn listing(host: &Host, dir: &str) -> BTreeMap<String, (String, String)> {
    const SCRIPT: &str = "import json, os, sys\n\
        d = sys.argv[1]\n\
        out = {}\n\
        for n in os.listdir(d):\n\
        \x20   p = os.path.join(d, n)\n\
        \x20   if os.path.islink(p): out[n] = ['link', os.readlink(p)]\n\
        \x20   elif os.path.isdir(p): out[n] = ['dir', '']\n\
        \x20   else: out[n] = ['file', open(p, 'rb').read().decode('utf-8', 'replace')]\n\
        print(json.dumps(out))\n";
    let text = host.exec_argv(&["python3", "-c", SCRIPT, dir]).await;
    let map: BTreeMap<String, (String, String)> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("listing {dir}: {e}: {text}"));
    map
}

async fn assert_no_canary(host: &Host, after: &str) {
    let found = host
        .exec_argv(&[
            "sh",
            "-c",
            "for p in /tmp/CANARY /CANARY /root/CANARY /home/ubuntu/CANARY; do [ -e \"$p\" ] && echo \"$p\"; done; true",
        ])
        .await;
    assert_eq!(found.trim(), "", "the canary was created after {after}");
}

/// Values refused before the run must be refused with a message naming the field.
fn check_refusals(label: &str, values: &[String], outcomes: &[Outcome], field: &str) {
    for (v, o) in values.iter().zip(outcomes) {
        if let Outcome::Refused(message) = o {
            assert!(
                message.contains(field),
                "{label}: {v:?} refused without naming `{field}`: {message}"
            );
        }
    }
}

fn applied(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| **o == Outcome::Applied).count()
}

#[tokio::test]
async fn hostile_strings_are_applied_literally_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed25519");
    let host = start_host("h1", &key).await;
    write_inventory(dir.path(), "hostile", &[&host], &key, "");
    let tasks = write_role(dir.path(), "hostile", "[]\n", &[("h.j2", "{{ item }}")]);
    let runner = Runner {
        dir: dir.path(),
        tasks: tasks.clone(),
        inventory_args: Vec::new(),
    };
    // git for the git module, a repository to clone, a web server for uri.
    std::fs::write(
        tasks.join("hostile.yml"),
        "- apt: {packages: git, update_cache: true}\n  become: true\n",
    )
    .unwrap();
    let tools = run_role(dir.path(), "hostile", &tasks, &[]).await;
    assert_eq!(tools.status, 0, "{}\n{}", tools.stdout, tools.stderr);
    let commit = host
        .sh(
            "exec 2>&1; set -e; export HOME=/tmp; git config --global user.email t@example.org; git config --global user.name t; \
             git init -q /tmp/repo; cd /tmp/repo; echo one > f; git add f; git commit -qm one; \
             chown -R ubuntu /tmp/repo; \
             for d in hc hcc ht hd hl hli hlr hcmd hg hgv hgr hi; do mkdir -p /tmp/$d; done; \
             chown -R ubuntu /tmp/h*; \
             (nohup python3 -m http.server 8000 --bind 127.0.0.1 --directory /tmp/hc >/dev/null 2>&1 &); \
             git -c safe.directory=* rev-parse HEAD",
        )
        .await;
    let commit = commit.lines().last().unwrap_or_default().to_string();
    assert_eq!(commit.len(), 40, "setting up the host: {commit}");

    let all = all_values();
    let names: Vec<String> = all.iter().filter(|v| file_name(v)).cloned().collect();
    let few = few_values();

    // copy: hostile file names with the same hostile content.
    let out = runner
        .settle("copy dest", &names, |i| {
            format!("- {{name: t{i}, copy: {{dest: \"/tmp/hc/{{{{ v[{i}] }}}}\", content: \"{{{{ v[{i}] }}}}\"}}}}")
        })
        .await;
    assert_eq!(applied(&out), names.len(), "{out:?}");
    let want: BTreeMap<String, (String, String)> = names
        .iter()
        .map(|n| (n.clone(), ("file".to_string(), n.clone())))
        .collect();
    assert_eq!(listing(&host, "/tmp/hc").await, want);
    assert_no_canary(&host, "copy dest").await;

    // copy: every value as content, names and newlines included.
    let out = runner
        .settle("copy content", &all, |i| {
            format!("- {{name: t{i}, copy: {{dest: /tmp/hcc/{i}, content: \"{{{{ v[{i}] }}}}\"}}}}")
        })
        .await;
    assert_eq!(applied(&out), all.len(), "{out:?}");
    let want: BTreeMap<String, (String, String)> = all
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), ("file".to_string(), v.clone())))
        .collect();
    assert_eq!(listing(&host, "/tmp/hcc").await, want);
    assert_no_canary(&host, "copy content").await;

    // template: hostile names, content rendered from the same value.
    let out = runner
        .settle("template", &names, |i| {
            format!("- {{name: t{i}, template: {{src: h.j2, dest: \"/tmp/ht/{{{{ item }}}}\"}}, loop: [\"{{{{ v[{i}] }}}}\"]}}")
        })
        .await;
    assert_eq!(applied(&out), names.len(), "{out:?}");
    let want: BTreeMap<String, (String, String)> = names
        .iter()
        .map(|n| (n.clone(), ("file".to_string(), n.clone())))
        .collect();
    assert_eq!(listing(&host, "/tmp/ht").await, want);
    assert_no_canary(&host, "template").await;

    // file: hostile directory names, and hostile link targets.
    let out = runner
        .settle("file directory", &names, |i| {
            format!("- {{name: t{i}, file: {{path: \"/tmp/hd/{{{{ v[{i}] }}}}\", state: directory, mode: '0755'}}}}")
        })
        .await;
    assert_eq!(applied(&out), names.len(), "{out:?}");
    let want: BTreeMap<String, (String, String)> = names
        .iter()
        .map(|n| (n.clone(), ("dir".to_string(), String::new())))
        .collect();
    assert_eq!(listing(&host, "/tmp/hd").await, want);
    let out = runner
        .settle("file link", &all, |i| {
            // `force`: the targets do not exist, and Ansible links to a missing target only then.
            format!("- {{name: t{i}, file: {{path: /tmp/hl/{i}, state: link, src: \"{{{{ v[{i}] }}}}\", force: true}}}}")
        })
        .await;
    assert_eq!(applied(&out), all.len(), "{out:?}");
    let want: BTreeMap<String, (String, String)> = all
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), ("link".to_string(), v.clone())))
        .collect();
    assert_eq!(listing(&host, "/tmp/hl").await, want);
    assert_no_canary(&host, "file").await;

    // lineinfile: hostile lines (a newline is refused), hostile regexps (applied or refused).
    let out = runner
        .settle("lineinfile line", &all, |i| {
            format!("- {{name: t{i}, lineinfile: {{path: /tmp/hli/{i}, line: \"{{{{ v[{i}] }}}}\", create: true}}}}")
        })
        .await;
    for (i, (v, o)) in all.iter().zip(&out).enumerate() {
        let expected = if v.contains('\n') {
            matches!(o, Outcome::Refused(m) if m.contains("`line` is one line"))
        } else {
            *o == Outcome::Applied
        };
        assert!(expected, "lineinfile line {i} {v:?}: {o:?}");
    }
    let want: BTreeMap<String, (String, String)> = all
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.contains('\n'))
        .map(|(i, v)| (i.to_string(), ("file".to_string(), format!("{v}\n"))))
        .collect();
    assert_eq!(listing(&host, "/tmp/hli").await, want);
    let out = runner
        .settle("lineinfile regexp", &all, |i| {
            format!("- {{name: t{i}, lineinfile: {{path: /tmp/hlr/{i}, line: fixed, regexp: \"{{{{ v[{i}] }}}}\", create: true}}}}")
        })
        .await;
    check_refusals("lineinfile regexp", &all, &out, "regexp");
    assert!(
        out.iter().all(|o| !matches!(o, Outcome::Failed(_))),
        "{out:?}"
    );
    for (name, entry) in listing(&host, "/tmp/hlr").await {
        assert_eq!(entry, ("file".to_string(), "fixed\n".to_string()), "{name}");
    }
    assert_no_canary(&host, "lineinfile").await;

    // command: hostile words are passed as they are (each becomes one file name), and hostile
    // directories as chdir.
    host.sh(&format!(
        "for i in $(seq 0 {}); do mkdir -p /tmp/hcmd/$i; done; chown -R ubuntu /tmp/hcmd",
        all.len()
    ))
    .await;
    let out = runner
        .settle("command words", &all, |i| {
            format!("- {{name: t{i}, command: {{cmd: \"touch -- {{{{ v[{i}] }}}}\", chdir: /tmp/hcmd/{i}}}}}")
        })
        .await;
    for (i, (v, o)) in all.iter().zip(&out).enumerate() {
        let Some(words) = shlex::split(&format!("touch -- {v}")) else {
            assert!(
                matches!(o, Outcome::Refused(m) if m.contains("unbalanced quotes")),
                "command {i} {v:?}: {o:?}"
            );
            continue;
        };
        // `touch -- -` touches standard output, as POSIX says.
        let made: Vec<&String> = words[2..]
            .iter()
            .filter(|w| file_name(w) && *w != "-")
            .collect();
        if made.len() == words.len() - 2 && !made.is_empty() {
            assert_eq!(*o, Outcome::Applied, "command {i} {v:?}");
        }
        if *o == Outcome::Applied {
            let want: BTreeMap<String, (String, String)> = made
                .iter()
                .map(|w| (w.to_string(), ("file".to_string(), String::new())))
                .collect();
            assert_eq!(
                listing(&host, &format!("/tmp/hcmd/{i}")).await,
                want,
                "command {i} {v:?}"
            );
        }
    }
    // Words are passed to touch as they are, so a word `/tmp/CANARY…` is a file touch makes;
    // exactly those may exist, and a command run by the shell would have made another.
    let mut literal_canaries = std::collections::BTreeSet::new();
    for (v, o) in all.iter().zip(&out) {
        if matches!(o, Outcome::Refused(_)) {
            continue;
        }
        for w in shlex::split(&format!("touch -- {v}")).unwrap_or_default() {
            if let Some(name) = w.strip_prefix("/tmp/")
                && name.starts_with("CANARY")
                && !name.contains('/')
            {
                literal_canaries.insert(name.to_string());
            }
        }
    }
    let in_tmp: std::collections::BTreeSet<String> = listing(&host, "/tmp")
        .await
        .into_keys()
        .filter(|n| n.starts_with("CANARY"))
        .collect();
    assert_eq!(in_tmp, literal_canaries);
    host.exec_argv(&[
        "find",
        "/tmp",
        "-maxdepth",
        "1",
        "-name",
        "CANARY*",
        "-delete",
    ])
    .await;
    let out = runner
        .settle("command chdir", &names, |i| {
            format!("- {{name: t{i}, command: {{cmd: \"touch marker\", chdir: \"/tmp/hd/{{{{ v[{i}] }}}}\", creates: \"/tmp/hd/{{{{ v[{i}] }}}}/marker\"}}}}")
        })
        .await;
    assert_eq!(applied(&out), names.len(), "{out:?}");
    for n in &names {
        let inside = listing(&host, &format!("/tmp/hd/{n}")).await;
        assert!(inside.contains_key("marker"), "{n:?}: {inside:?}");
    }
    assert_no_canary(&host, "command").await;

    // git: hostile destinations are cloned into; hostile repos and versions are refused or fail.
    let git_names: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with("c"))
        .cloned()
        .collect();
    let out = runner
        .settle("git dest", &git_names, |i| {
            format!(
                "- {{name: t{i}, git: {{repo: /tmp/repo, dest: \"/tmp/hg/{{{{ v[{i}] }}}}\"}}}}"
            )
        })
        .await;
    assert_eq!(applied(&out), git_names.len(), "{out:?}");
    for n in &git_names {
        let head = host
            .exec_argv(&[
                "git",
                "-c",
                "safe.directory=*",
                "-C",
                &format!("/tmp/hg/{n}"),
                "rev-parse",
                "HEAD",
            ])
            .await;
        assert_eq!(head.trim(), commit, "{n:?}");
    }
    let out = runner
        .settle("git repo", &few, |i| {
            format!("- {{name: t{i}, git: {{repo: \"{{{{ v[{i}] }}}}\", dest: /tmp/hgr/{i}}}}}")
        })
        .await;
    check_refusals("git repo", &few, &out, "repo");
    assert_eq!(applied(&out), 0, "{out:?}");
    assert_no_canary(&host, "git repo").await;
    // A version git accepts as a tag name is made a tag; it is cloned at, or refused.
    let mut tagged = Vec::new();
    for v in &few {
        let ok = std::process::Command::new("git")
            .args(["check-ref-format", &format!("refs/tags/{v}")])
            .status()
            .unwrap()
            .success();
        if ok {
            host.exec_argv(&[
                "git",
                "-C",
                "/tmp/repo",
                "update-ref",
                &format!("refs/tags/{v}"),
                "HEAD",
            ])
            .await;
            tagged.push(true);
        } else {
            tagged.push(false);
        }
    }
    let out = runner
        .settle("git version", &few, |i| {
            format!("- {{name: t{i}, git: {{repo: /tmp/repo, dest: /tmp/hgv/{i}, version: \"{{{{ v[{i}] }}}}\"}}}}")
        })
        .await;
    check_refusals("git version", &few, &out, "version");
    for (i, ((v, o), tag)) in few.iter().zip(&out).zip(&tagged).enumerate() {
        if *o == Outcome::Applied {
            assert!(tag, "git version {i} {v:?} applied but is no tag");
            let head = host
                .exec_argv(&[
                    "git",
                    "-c",
                    "safe.directory=*",
                    "-C",
                    &format!("/tmp/hgv/{i}"),
                    "rev-parse",
                    "HEAD",
                ])
                .await;
            assert_eq!(head.trim(), commit, "{v:?}");
        }
    }
    assert_no_canary(&host, "git version").await;

    // Accounts, packages, services, debconf, mounts, devices, HTTP requests.
    let out = runner
        .settle("group name", &few, |i| {
            format!("- {{name: t{i}, group: {{name: \"{{{{ v[{i}] }}}}\"}}, become: true}}")
        })
        .await;
    check_refusals("group name", &few, &out, "name `");
    for (v, o) in few.iter().zip(&out) {
        if *o == Outcome::Applied {
            let entry = host.exec_argv(&["getent", "group", v]).await;
            assert!(entry.starts_with(&format!("{v}:")), "{v:?}: {entry}");
        }
    }
    let out = runner
        .settle("user home", &few, |i| {
            format!("- {{name: t{i}, user: {{name: hu{i}, home: \"/home/{{{{ v[{i}] }}}}\", create_home: false}}, become: true}}")
        })
        .await;
    check_refusals("user home", &few, &out, "home `");
    for (i, (v, o)) in few.iter().zip(&out).enumerate() {
        if *o == Outcome::Applied {
            let entry = host
                .exec_argv(&["getent", "passwd", &format!("hu{i}")])
                .await;
            assert_eq!(
                entry.trim_end_matches('\n').split(':').nth(5),
                Some(format!("/home/{v}").as_str()),
                "{v:?}"
            );
        }
    }
    assert_no_canary(&host, "group and user").await;
    let out = runner
        .settle("apt packages", &few, |i| {
            format!("- {{name: t{i}, apt: {{packages: [\"{{{{ v[{i}] }}}}\"], state: absent}}, become: true}}")
        })
        .await;
    check_refusals("apt packages", &few, &out, "packages: `");
    let out = runner
        .settle("service name", &few, |i| {
            format!("- {{name: t{i}, service: {{name: \"{{{{ v[{i}] }}}}\", state: stopped}}, become: true}}")
        })
        .await;
    check_refusals("service name", &few, &out, "name `");
    let out = runner
        .settle("debconf value", &few, |i| {
            format!("- {{name: t{i}, debconf: {{name: provtest, question: provtest/q{i}, vtype: string, value: \"{{{{ v[{i}] }}}}\"}}, become: true}}")
        })
        .await;
    check_refusals("debconf value", &few, &out, "value:");
    let out = runner
        .settle("mount path", &few, |i| {
            format!(
                "- {{name: t{i}, mount: {{path: \"/mnt/{{{{ v[{i}] }}}}\", state: unmounted}}}}"
            )
        })
        .await;
    check_refusals("mount path", &few, &out, "path `");
    let out = runner
        .settle("filesystem dev", &few, |i| {
            format!("- {{name: t{i}, filesystem: {{dev: \"/dev/{{{{ v[{i}] }}}}\", fstype: ext4}}, become: true}}")
        })
        .await;
    assert_eq!(applied(&out), 0, "{out:?}");
    let out = runner
        .settle("uri url", &few, |i| {
            format!("- {{name: t{i}, uri: {{url: \"http://127.0.0.1:8000/{{{{ v[{i}] }}}}\", status_code: [200, 400, 404]}}}}")
        })
        .await;
    check_refusals("uri url", &few, &out, "url `");
    let out = runner
        .settle("uri body and header", &few, |i| {
            format!("- {{name: t{i}, uri: {{url: \"http://127.0.0.1:8000/\", method: POST, body: \"{{{{ v[{i}] }}}}\", body_format: raw, headers: {{X-Hostile: \"{{{{ v[{i}] }}}}\"}}, status_code: [200, 501]}}}}")
        })
        .await;
    check_refusals("uri body and header", &few, &out, "header X-Hostile");
    assert_no_canary(&host, "accounts, packages, services, debconf, mounts, uri").await;

    // Inventory host names used in paths.
    for (i, name) in [
        // Relative: a command would run in the login directory, where the canary is looked for.
        "web1$(touch${IFS}CANARY)".to_string(),
        "w2`touch CANARY`".to_string(),
        "w3;touch CANARY".to_string(),
        "w4\"x\"'y".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let quoted = format!("'{}'", name.replace('\'', r"'\''"));
        std::fs::write(
            dir.path().join("hostile-inventory"),
            format!(
                "[hostile]\n{quoted} ansible_host=127.0.0.1 ansible_port={}\n[hostile:vars]\nansible_ssh_private_key_file={}\n",
                host.port,
                key.path.display()
            ),
        )
        .unwrap();
        let by_name = Runner {
            dir: dir.path(),
            tasks: tasks.clone(),
            inventory_args: vec!["-i".into(), "hostile-inventory".into()],
        };
        let out = by_name
            .settle("inventory name", std::slice::from_ref(name), |_| {
                "- {name: t0, copy: {dest: \"/tmp/hi/{{ inventory_hostname }}\", content: \"{{ inventory_hostname }}\"}}".to_string()
            })
            .await;
        match &out[0] {
            Outcome::Applied => {
                let listed = listing(&host, "/tmp/hi").await;
                assert_eq!(
                    listed.get(name),
                    Some(&("file".to_string(), name.clone())),
                    "host name {i} {name:?}: {listed:?}"
                );
            }
            Outcome::Refused(_) => {}
            other => panic!("host name {name:?}: {other:?}"),
        }
    }
    assert_no_canary(&host, "inventory host names").await;
}
