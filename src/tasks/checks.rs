//! Checks on rendered argument values that no quoting can make safe: a NUL byte (no command line
//! can carry one), a value a command would read as an option where it cannot be told `--`, and
//! line breaks in values that end up in line-based files or protocols.

use super::FieldError;
use crate::render::Pos;

/// Refuses a value holding a NUL byte: a remote command line ends at the first one.
pub fn no_nul(value: String, pos: Pos) -> Result<String, FieldError> {
    if value.contains('\0') {
        return Err(FieldError {
            pos,
            message: "the value holds a NUL byte, which no command on the host can be given".into(),
        });
    }
    Ok(value)
}

/// Refuses a value starting with `-`, for commands that would take it for an option and cannot
/// be told where their options end.
pub fn not_an_option(field: &str, value: &str, pos: Pos) -> Result<(), FieldError> {
    if value.starts_with('-') {
        return Err(FieldError {
            pos,
            message: format!(
                "{field} `{value}` may not start with `-` (it would be read as an option)"
            ),
        });
    }
    Ok(())
}

/// Refuses control characters (line breaks, tabs, escapes) in a value that is one line of a file
/// or of a protocol.
pub fn one_line(field: &str, value: &str, pos: Pos) -> Result<(), FieldError> {
    if value.chars().any(char::is_control) {
        return Err(FieldError {
            pos,
            message: format!(
                "{field} `{}` may not hold line breaks or other control characters",
                value.escape_debug()
            ),
        });
    }
    Ok(())
}

/// A user or group name as owner, group or become_user take it: a name or a numeric id, which
/// `chown`, `sudo -u` and `useradd` all read the same way.
pub fn account(field: &str, value: &str, pos: Pos) -> Result<(), FieldError> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && !value.starts_with('-');
    if !ok {
        return Err(FieldError {
            pos,
            message: format!(
                "{field} `{}` is not a user or group name (letters, digits, `_`, `-`, `.`; not starting with `-`)",
                value.escape_debug()
            ),
        });
    }
    Ok(())
}
