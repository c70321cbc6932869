//! Host ranges as Ansible writes them: `web[01:05].example.com` (zero-padded like the start),
//! `db-[a:c]`, a stride `[1:10:2]`, several ranges in one name. A reversed or malformed range is
//! an error here; Ansible silently yields no host for a reversed one.

pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("`{pattern}`: `[` without `]`"))?;
    let (head, spec, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = spec.split(':').collect();
    let (start, end, stride) = match parts.as_slice() {
        [s, e] => (*s, *e, 1usize),
        [s, e, st] => (
            *s,
            *e,
            st.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{pattern}`: stride `{st}` must be a positive number"))?,
        ),
        _ => {
            return Err(format!(
                "`{pattern}`: a range is written [start:end] or [start:end:stride]"
            ));
        }
    };
    let items: Vec<String> = if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(format!(
                "`{pattern}`: range [{start}:{end}] runs backwards and would name no host"
            ));
        }
        let width = if start.len() > 1 && start.starts_with('0') {
            start.len()
        } else {
            0
        };
        (a..=b)
            .step_by(stride)
            .map(|n| format!("{n:0width$}"))
            .collect()
    } else if start.len() == 1
        && end.len() == 1
        && start.chars().all(|c| c.is_ascii_alphabetic())
        && end.chars().all(|c| c.is_ascii_alphabetic())
    {
        let (a, b) = (start.as_bytes()[0], end.as_bytes()[0]);
        if a > b {
            return Err(format!(
                "`{pattern}`: range [{start}:{end}] runs backwards and would name no host"
            ));
        }
        (a..=b)
            .step_by(stride)
            .map(|c| (c as char).to_string())
            .collect()
    } else {
        return Err(format!(
            "`{pattern}`: [{spec}] is not a numeric range like [01:05] or a letter range like [a:c]"
        ));
    };
    let mut out = Vec::new();
    for rest in expand(tail)? {
        for item in &items {
            out.push(format!("{head}{item}{rest}"));
        }
    }
    // Keep the first range varying slowest, as Ansible lists them.
    let per_item = out.len() / items.len().max(1);
    let mut ordered = Vec::with_capacity(out.len());
    for i in 0..items.len() {
        for j in 0..per_item {
            ordered.push(out[j * items.len() + i].clone());
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn numeric_alpha_stride_and_several() {
        assert_eq!(
            expand("web[01:03].x").unwrap(),
            vec!["web01.x", "web02.x", "web03.x"]
        );
        assert_eq!(expand("db-[a:c]").unwrap(), vec!["db-a", "db-b", "db-c"]);
        assert_eq!(expand("n[1:6:2]").unwrap(), vec!["n1", "n3", "n5"]);
        assert_eq!(
            expand("r[1:2]-[a:b]").unwrap(),
            vec!["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        assert_eq!(expand("plain").unwrap(), vec!["plain"]);
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert!(expand("web[3:1]").unwrap_err().contains("backwards"));
        assert!(expand("web[1:").unwrap_err().contains("without"));
        assert!(expand("web[1-3]").unwrap_err().contains("[start:end]"));
        assert!(expand("web[1:5:0]").unwrap_err().contains("stride"));
    }
}
