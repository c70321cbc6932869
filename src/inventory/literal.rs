//! Ansible types INI values with Python's `ast.literal_eval`: numbers, `True`/`False`/`None`,
//! quoted strings, lists, tuples and dicts become typed; anything else stays the string it was
//! (`yes`, `true`, `0644`, `a b`). This reads the same subset.

use serde_json::{Map, Number, Value};

pub fn parse_value(text: &str) -> Value {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    match p.value() {
        Some(v) => {
            p.skip_ws();
            if p.i == p.s.len() {
                v
            } else {
                Value::String(text.to_string())
            }
        }
        None => Value::String(text.to_string()),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            b'[' => self.sequence(b'[', b']'),
            b'(' => self.sequence(b'(', b')'),
            b'{' => self.dict(),
            b'"' | b'\'' => self.string().map(Value::String),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            _ => self.name(),
        }
    }

    fn name(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            b"True" => Some(Value::Bool(true)),
            b"False" => Some(Value::Bool(false)),
            b"None" => Some(Value::Null),
            _ => None,
        }
    }

    fn sequence(&mut self, open: u8, close: u8) -> Option<Value> {
        self.i += 1;
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            if self.eat(close) {
                break;
            }
            items.push(self.value()?);
            trailing_comma = self.eat(b',');
            if trailing_comma {
                continue;
            }
            if self.eat(close) {
                break;
            }
            return None;
        }
        // `(1)` is just 1 in Python; only `(1,)` is a tuple.
        if open == b'(' && items.len() == 1 && !trailing_comma {
            return items.pop();
        }
        Some(Value::Array(items))
    }

    fn dict(&mut self) -> Option<Value> {
        self.i += 1;
        let mut map = Map::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => {
                    if b {
                        "True".into()
                    } else {
                        "False".into()
                    }
                }
                _ => return None,
            };
            if !self.eat(b':') {
                return None;
            }
            map.insert(key, self.value()?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                break;
            }
            return None;
        }
        Some(Value::Object(map))
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == quote {
                return String::from_utf8(out).ok();
            }
            if c == b'\\' {
                let e = self.peek()?;
                self.i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'0' => out.push(0),
                    b'\\' | b'\'' | b'"' => out.push(e),
                    other => {
                        out.push(b'\\');
                        out.push(other);
                    }
                }
            } else {
                out.push(c);
            }
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let mut negative = false;
        if matches!(self.peek(), Some(b'-') | Some(b'+')) {
            negative = self.peek() == Some(b'-');
            self.i += 1;
        }
        let body_start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'.' | b'_' | b'+' | b'-'))
        {
            // A sign only belongs to an exponent.
            if matches!(self.s[self.i], b'+' | b'-') && !matches!(self.s[self.i - 1], b'e' | b'E') {
                break;
            }
            self.i += 1;
        }
        let body = std::str::from_utf8(&self.s[body_start..self.i]).ok()?;
        if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
            return None;
        }
        let clean = body.replace('_', "");
        let lower = clean.to_ascii_lowercase();
        let radix = |prefix: &str, radix: u32| -> Option<Option<i64>> {
            lower
                .strip_prefix(prefix)
                .map(|d| i64::from_str_radix(d, radix).ok())
        };
        let int = if let Some(v) = radix("0x", 16) {
            v
        } else if let Some(v) = radix("0o", 8) {
            v
        } else if let Some(v) = radix("0b", 2) {
            v
        } else if lower.chars().all(|c| c.is_ascii_digit()) {
            // Python 3 refuses leading zeros (`0644` is a syntax error): the value stays a string.
            if lower.len() > 1 && lower.starts_with('0') && lower.chars().any(|c| c != '0') {
                return None;
            }
            lower.parse::<i64>().ok()
        } else {
            None
        };
        if let Some(n) = int {
            return Some(Value::Number(Number::from(if negative { -n } else { n })));
        }
        let is_float = lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            && lower.chars().any(|c| c.is_ascii_digit());
        if is_float && let Ok(f) = lower.parse::<f64>() {
            let _ = start;
            return Number::from_f64(if negative { -f } else { f }).map(Value::Number);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_like_python_literal_eval() {
        let cases = [
            ("5", json!(5)),
            ("-5", json!(-5)),
            ("1_000", json!(1000)),
            ("0x10", json!(16)),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            ("True", json!(true)),
            ("False", json!(false)),
            ("None", json!(null)),
            ("\"quoted\"", json!("quoted")),
            ("'single'", json!("single")),
            ("[1, 2]", json!([1, 2])),
            ("(1,2)", json!([1, 2])),
            ("(1)", json!(1)),
            ("(1,)", json!([1])),
            ("{'k': [1, 'a']}", json!({"k": [1, "a"]})),
        ];
        for (text, want) in cases {
            assert_eq!(parse_value(text), want, "{text}");
        }
    }

    #[test]
    fn everything_else_stays_a_string() {
        for text in [
            "yes", "true", "0644", "a b", "{k:1}", "/srv/www", "10.0.0.1", "1.2.3", "", "[1, 2",
            "web01",
        ] {
            assert_eq!(parse_value(text), json!(text), "{text}");
        }
    }
}
