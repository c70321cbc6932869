//! Secret values never reach the terminal, `--diff`, `--json` or an error message: everything
//! printed goes through [`clean`], which masks every registered value in every form the tool
//! prints it in: as it is, JSON-escaped (`--json` escapes before it prints, and a template may
//! use `tojson`), shell-quoted (a command shown as it ran), and line by line (a multi-line key in
//! a diff or an stderr tail).

use std::borrow::Cow;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Too short a value would mask ordinary words; the secrets loader refuses shorter secrets, and
/// shorter lines of a multi-line secret are left alone.
pub const SHORTEST: usize = 6;

pub const MASK: &str = "********";

/// `value` inside a JSON string, without the quotes around it.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_string()
}

/// `value` as the templates' `tojson` filter writes it (JSON that is also safe inside HTML).
fn template_json_escaped(value: &str) -> String {
    json_escaped(value)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027")
}

/// `value` inside single quotes as [`crate::tasks::remote::quote`] writes it, without the outer
/// quotes: what shows when the value is part of a longer quoted word.
fn shell_escaped(value: &str) -> String {
    value.replace('\'', r"'\''")
}

/// Every form in which `value` can appear in what the tool prints.
pub fn forms(value: &str) -> Vec<String> {
    let mut pieces = vec![value.to_string()];
    if value.contains('\n') {
        pieces.extend(value.lines().map(|l| l.trim_end_matches('\r').to_string()));
    }
    let mut out: Vec<String> = Vec::new();
    for piece in pieces {
        let shell = shell_escaped(&piece);
        for form in [
            template_json_escaped(&piece),
            json_escaped(&piece),
            json_escaped(&shell),
            crate::tasks::remote::quote(&piece),
            shell,
            piece,
        ] {
            if form.len() >= SHORTEST && !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

pub fn register(values: impl IntoIterator<Item = String>) {
    let mut list = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    for v in values {
        for form in forms(&v) {
            if !list.contains(&form) {
                list.push(form);
            }
        }
    }
    // Longer first, so a form that contains another (a quoted form contains the raw value, a
    // whole value contains its lines) is masked whole.
    list.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

pub fn clean(text: &str) -> Cow<'_, str> {
    let list = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in list.iter() {
        out = out.replace(s.as_str(), MASK);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_values_only() {
        register(["s3cr3t-value".to_string(), "abc".to_string()]);
        assert_eq!(
            clean("user admin:s3cr3t-value@db"),
            "user admin:********@db"
        );
        assert_eq!(
            clean("abc is too short to mask"),
            "abc is too short to mask"
        );
    }

    #[test]
    fn masks_json_escaped_and_shell_quoted_forms() {
        let secret = r#"pa"ss\wo'rd-1"#;
        register([secret.to_string()]);
        let json = serde_json::json!({ "message": format!("login with {secret} failed") });
        let printed = serde_json::to_string_pretty(&json).unwrap();
        assert!(printed.contains(r#"pa\"ss\\wo'rd-1"#), "{printed}");
        assert_eq!(
            clean(&printed),
            "{\n  \"message\": \"login with ******** failed\"\n}"
        );
        let quoted = crate::tasks::remote::quote(&format!("echo {secret}"));
        assert_eq!(clean(&quoted), "'echo ********'");
        // A quoted command line in JSON: both escapings at once.
        let both = serde_json::to_string(&quoted).unwrap();
        assert_eq!(clean(&both), "\"'echo ********'\"");
    }

    #[test]
    fn masks_each_line_of_a_multi_line_value() {
        let key = "-----BEGIN TEST KEY-----\nMIIEowIBAAKCAQEAx1line\nqq9secondLineOfKey\n-----END TEST KEY-----\n";
        register([key.to_string()]);
        let diff = "+-----BEGIN TEST KEY-----\n+MIIEowIBAAKCAQEAx1line\n+qq9secondLineOfKey\n";
        assert_eq!(clean(diff), "+********\n+********\n+********\n");
        let json = serde_json::to_string(&format!("stderr: {key}")).unwrap();
        assert!(!clean(&json).contains("MIIEow"), "{}", clean(&json));
        assert!(!clean(&json).contains("secondLine"), "{}", clean(&json));
    }
}
