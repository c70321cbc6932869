//! YAML read as Ansible reads it (PyYAML, YAML 1.1): `0644` is the octal number 420 and `012` is
//! 10; `yes`/`no`/`on`/`off` are booleans.

use serde_json::{Map, Value};

/// The options every YAML file of a role, playbook or variables file is read with.
pub fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        legacy_octal_numbers: true,
    }
}

pub fn from_str<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// A variables file: a mapping (or nothing). The error carries its line.
pub fn vars_from_str(text: &str) -> Result<Map<String, Value>, (usize, String)> {
    let value: Option<Map<String, Value>> = from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize).unwrap_or(0);
        (line, e.without_snippet().to_string())
    })?;
    Ok(value.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_as_pyyaml_reads_them() {
        let v = vars_from_str("a: 0644\nb: 012\nc: yes\nd: off\ne: '0644'\nf: 10\n").unwrap();
        assert_eq!(v["a"], 420);
        assert_eq!(v["b"], 10);
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], false);
        assert_eq!(v["e"], "0644");
        assert_eq!(v["f"], 10);
        assert!(vars_from_str("").unwrap().is_empty());
        assert!(vars_from_str("- a\n").is_err());
    }
}
