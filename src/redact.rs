//! Secret values never reach the terminal, `--diff`, `--json` or an error message: everything
//! printed goes through [`clean`], which masks every registered value.

use std::borrow::Cow;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Too short a value would mask ordinary words; generated secrets are far longer.
const SHORTEST: usize = 6;

pub const MASK: &str = "********";

pub fn register(values: impl IntoIterator<Item = String>) {
    let mut list = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    for v in values {
        if v.len() >= SHORTEST && !list.contains(&v) {
            list.push(v);
        }
    }
    // Longer first, so a secret that contains another is masked whole.
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
}
