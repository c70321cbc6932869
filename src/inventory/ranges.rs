//! Host ranges as Ansible writes them: `web[01:05].example.com` (zero-padded when the start has
//! a leading zero, and then the end must have the same width; `web[1:10]` is not padded),
//! `db-[a:c]` (letters run a-z then A-Z, so `[y:B]` is y z A B), an empty start `[:3]` (from 0),
//! a stride `[1:10:2]`, several ranges in one name. A reversed or malformed range is an error
//! here; Ansible silently yields no host for a reversed numeric one.

/// Python's `string.ascii_letters`, the alphabet of letter ranges.
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

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
    let (mut start, end, stride) = match parts.as_slice() {
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
    if start.is_empty() {
        start = "0";
    }
    if end.is_empty() {
        return Err(format!("`{pattern}`: the range [{spec}] has no end"));
    }
    let width = if start.len() > 1 && start.starts_with('0') {
        if end.len() != start.len() {
            return Err(format!(
                "`{pattern}`: [{spec}] pads with zeros to the width of `{start}`, so the end must \
                 have the same width"
            ));
        }
        start.len()
    } else {
        0
    };
    let backwards =
        || format!("`{pattern}`: range [{start}:{end}] runs backwards and would name no host");
    let items: Vec<String> = if let (Some(a), Some(b)) = (LETTERS.find(start), LETTERS.find(end)) {
        if a > b {
            return Err(backwards());
        }
        LETTERS[a..=b]
            .chars()
            .step_by(stride)
            .map(|c| format!("{c:0>width$}"))
            .collect()
    } else if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(backwards());
        }
        (a..=b)
            .step_by(stride)
            .map(|n| format!("{n:0width$}"))
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
    fn widths_letters_and_empty_start_as_ansible() {
        // Padded only when the start has a leading zero.
        let unpadded = expand("web[1:10]").unwrap();
        assert_eq!(unpadded.len(), 10);
        assert_eq!(
            (unpadded[0].as_str(), unpadded[9].as_str()),
            ("web1", "web10")
        );
        assert_eq!(expand("web[8:010]").unwrap(), vec!["web8", "web9", "web10"]);
        assert_eq!(expand("db[08:10]").unwrap(), vec!["db08", "db09", "db10"]);
        assert!(expand("db[01:100]").unwrap_err().contains("same width"));
        assert_eq!(expand("s[:2]").unwrap(), vec!["s0", "s1", "s2"]);
        assert!(expand("s[1:]").unwrap_err().contains("no end"));
        assert_eq!(expand("x[y:B]").unwrap(), vec!["xy", "xz", "xA", "xB"]);
        assert_eq!(expand("m[x:z:2]").unwrap(), vec!["mx", "mz"]);
        assert!(expand("x[B:a]").unwrap_err().contains("backwards"));
        assert_eq!(
            expand("[a:b]-web.example.org").unwrap(),
            vec!["a-web.example.org", "b-web.example.org"]
        );
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert!(expand("web[3:1]").unwrap_err().contains("backwards"));
        assert!(expand("web[1:").unwrap_err().contains("without"));
        assert!(expand("web[1-3]").unwrap_err().contains("[start:end]"));
        assert!(expand("web[1:5:0]").unwrap_err().contains("stride"));
    }
}
