//! `--tags` and `--skip-tags`, with Ansible's special tags: `always` runs unless skipped by name,
//! `never` only when one of its tags is asked for, `all`, `tagged` and `untagged`.

/// Which tasks a run keeps, by their tags.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    /// Empty: every task (but `never`).
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl TagFilter {
    /// From the command line: each value may hold several tags separated by commas.
    pub fn new(only: &[String], skip: &[String]) -> TagFilter {
        let split = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        };
        TagFilter {
            only: split(only),
            skip: split(skip),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.skip.is_empty()
    }

    /// Whether a task with these tags runs.
    pub fn keeps(&self, tags: &[String]) -> bool {
        let has = |t: &str| tags.iter().any(|x| x == t);
        let named = |list: &[String]| {
            list.iter().any(|w| match w.as_str() {
                "all" => true,
                "tagged" => !tags.is_empty(),
                "untagged" => tags.is_empty(),
                other => has(other),
            })
        };
        let selected = if self.only.is_empty() {
            !has("never")
        } else {
            let asked = |t: &String| self.only.iter().any(|o| o == t);
            let by_name = tags.iter().any(|t| t != "always" && asked(t));
            if has("never") {
                by_name || self.only.iter().any(|o| o == "never")
            } else {
                by_name
                    || has("always")
                    || self.only.iter().any(|o| o == "all")
                    || (self.only.iter().any(|o| o == "tagged") && !tags.is_empty())
                    || (self.only.iter().any(|o| o == "untagged") && tags.is_empty())
            }
        };
        let skipped = if has("always") {
            // `always` is skipped only when named (or through one of its other tags).
            self.skip
                .iter()
                .any(|s| s == "always" || (s != "all" && s != "tagged" && has(s)))
        } else {
            named(&self.skip)
        };
        selected && !skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn filter(only: &[&str], skip: &[&str]) -> TagFilter {
        TagFilter::new(&tags(only), &tags(skip))
    }

    #[test]
    fn as_ansible_selects() {
        let none = filter(&[], &[]);
        assert!(none.keeps(&tags(&[])));
        assert!(none.keeps(&tags(&["a"])));
        assert!(!none.keeps(&tags(&["never", "a"])));

        let a = filter(&["a"], &[]);
        assert!(a.keeps(&tags(&["a", "b"])));
        assert!(!a.keeps(&tags(&["b"])));
        assert!(!a.keeps(&tags(&[])));
        assert!(a.keeps(&tags(&["always"])));
        assert!(a.keeps(&tags(&["never", "a"])));

        let tagged = filter(&["tagged"], &[]);
        assert!(tagged.keeps(&tags(&["b"])));
        assert!(!tagged.keeps(&tags(&[])));
        let untagged = filter(&["untagged"], &[]);
        assert!(untagged.keeps(&tags(&[])));
        assert!(!untagged.keeps(&tags(&["b"])));

        let skip_b = filter(&[], &["b"]);
        assert!(!skip_b.keeps(&tags(&["a", "b"])));
        assert!(skip_b.keeps(&tags(&["a"])));
        assert!(skip_b.keeps(&tags(&["always"])));
        assert!(!filter(&[], &["always"]).keeps(&tags(&["always"])));
        assert!(!filter(&["a,c"], &["c"]).keeps(&tags(&["c"])));
        assert!(filter(&["a,c"], &["c"]).keeps(&tags(&["a"])));
    }
}
