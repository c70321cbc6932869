//! What each subcommand does, called by the thin `main`.

pub mod cloud;
pub mod deploy;
pub mod execution;
pub mod init;
pub mod inventory;
pub mod playbook;
pub mod run;

pub use crate::error::AppError;

const COMMANDS: &[&str] = &[
    "deploy",
    "run",
    "playbook",
    "init",
    "inventory",
    "instance",
    "volume",
    "snapshot",
];

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(previous + usize::from(ca != *cb));
            previous = here;
        }
    }
    row[b.len()]
}

/// When `provision WORD …` read as a deploy does not parse and WORD is no built-in role, the
/// user most likely mistyped a command: say so, with the nearest command.
pub fn not_a_command(args: &[String]) -> Option<String> {
    let word = args.first()?;
    let roles = crate::roles::RoleSource::built_in();
    if roles.contains(word) || args.iter().any(|a| a.starts_with("--tasks-dir")) {
        return None;
    }
    let nearest = COMMANDS
        .iter()
        .min_by_key(|c| edit_distance(word, c))
        .filter(|c| edit_distance(word, c) <= 2);
    Some(format!(
        "`{word}` is neither a command ({}) nor a built-in role ({}){}",
        COMMANDS.join(", "),
        roles.join(", "),
        nearest.map_or(String::new(), |c| format!("; did you mean `{c}`?"))
    ))
}

/// Columns aligned under their headers, as the AWS and OpenStack CLIs print tables.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        let cells: Vec<&str> = row
            .iter()
            .map(|c| if c.is_empty() { "-" } else { c.as_str() })
            .collect();
        out.push_str(&line(cells));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_aligns_columns_and_marks_empty_cells() {
        let t = super::table(
            &["ID", "NAME"],
            &[
                vec!["i-1".into(), "web".into()],
                vec!["i-12345".into(), String::new()],
            ],
        );
        assert_eq!(t, "ID       NAME\ni-1      web\ni-12345  -\n");
    }
}
