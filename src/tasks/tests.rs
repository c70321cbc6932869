use super::*;

fn parse(text: &str) -> Result<TaskFile, TaskFileError> {
    TaskFile::parse("tasks/t.yml", text)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn list_and_mapping_forms() {
    let f =
        parse("- name: a\n  command: echo hi\n- file: {path: /tmp/x, state: directory}\n").unwrap();
    assert_eq!(f.tasks.len(), 2);
    assert_eq!(f.tasks[1].pos.line, 3);
    let g = parse(
        "tasks:\n  - name: t\n    copy: {dest: /x, content: y}\n    notify: [h]\nhandlers:\n  - name: h\n    command: 'true'\n",
    )
    .unwrap();
    assert_eq!(g.handlers.len(), 1);
    assert_eq!(g.tasks[0].notify, vec!["h"]);
}

#[test]
fn errors_name_file_line_and_column() {
    let e = err("- name: a\n  comand: echo hi\n");
    assert!(e.starts_with("tasks/t.yml:2:"), "{e}");
    assert!(e.contains("unknown module or task keyword `comand`"), "{e}");

    let e = err("- name: a\n  file:\n    path: /x\n    stat: directory\n");
    assert!(e.starts_with("tasks/t.yml:4:"), "{e}");
    assert!(e.contains("stat"), "{e}");

    let e = err("- name: a\n  become: maybe\n  command: x\n");
    assert!(e.starts_with("tasks/t.yml:2:"), "{e}");

    let e = err("- name: a\n");
    assert!(e.contains("names no module"), "{e}");

    let e = err("- name: a\n  command: x\n  shell: y\n");
    assert!(e.contains("two modules"), "{e}");

    let e = err("- name: a\n  command: x\n  notify: nobody\n");
    assert!(e.starts_with("tasks/t.yml:3:11: "), "{e}");
    assert!(e.contains("not a handler"), "{e}");
}

#[test]
fn mode_must_be_text() {
    let f = parse("- file: {path: /x, state: directory, mode: '0750'}\n").unwrap();
    assert_eq!(f.tasks.len(), 1);
    let e = parse("- file: {path: /x, state: directory, mode: 0750}\n");
    // A bare 0750 is kept as text when the YAML reader allows it, refused otherwise: never misread.
    if let Err(e) = e {
        assert!(e.to_string().contains("quoted octal"), "{e}");
    }
}
