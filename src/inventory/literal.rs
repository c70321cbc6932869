//! Ansible types INI values with Python's `ast.literal_eval`: numbers, `True`/`False`/`None`,
//! quoted strings (with prefixes `r`, `u`, `b`, and adjacent ones joined), lists, tuples, sets,
//! dicts, `...` and complex numbers become typed; anything else stays the string it was (`yes`,
//! `true`, `0644`, `a b`). A `#` outside quotes starts a Python comment (`1 # port` is 1).
//! Ansible then turns tuples and sets into lists (a set in the order CPython iterates it),
//! complex numbers and `...` into their text, bytes into text; JSON makes dict keys text.
//!
//! Not reproduced: sets of strings or of non-integral floats (CPython orders them by a hash
//! that is random per process for strings; here they keep their written order), integers
//! beyond 64 bits and infinite floats (kept as the string written).

use serde_json::{Map, Number, Value};

pub fn parse_value(text: &str) -> Value {
    // Python's literal_eval ignores leading spaces and tabs.
    let trimmed = text.trim_start_matches([' ', '\t']);
    let mut p = Parser {
        s: trimmed.as_bytes(),
        i: 0,
    };
    let parsed = p.value().filter(|_| {
        p.skip_ws();
        p.i == p.s.len()
    });
    parsed
        .and_then(|v| v.to_json())
        .unwrap_or_else(|| Value::String(text.to_string()))
}

/// A Python value as `literal_eval` builds it.
#[derive(Debug, Clone)]
enum Py {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    List(Vec<Py>),
    Tuple(Vec<Py>),
    /// Already without duplicates, in CPython's iteration order.
    Set(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

impl Py {
    fn hashable(&self) -> bool {
        match self {
            Py::List(_) | Py::Set(_) | Py::Dict(_) => false,
            Py::Tuple(items) => items.iter().all(Py::hashable),
            _ => true,
        }
    }

    fn as_complex(&self) -> Option<(f64, f64)> {
        match self {
            Py::Bool(b) => Some((f64::from(u8::from(*b)), 0.0)),
            Py::Int(n) => Some((*n as f64, 0.0)),
            Py::Float(f) => Some((*f, 0.0)),
            Py::Complex(r, i) => Some((*r, *i)),
            _ => None,
        }
    }

    /// Python's `==` (1 == 1.0 == True).
    fn py_eq(&self, other: &Py) -> bool {
        match (self, other) {
            (Py::Int(a), Py::Int(b)) => a == b,
            (Py::Bool(a), Py::Bool(b)) => a == b,
            (Py::Int(a), Py::Bool(b)) | (Py::Bool(b), Py::Int(a)) => *a == i128::from(*b),
            (Py::None, Py::None) | (Py::Ellipsis, Py::Ellipsis) => true,
            (Py::Str(a), Py::Str(b)) => a == b,
            (Py::Bytes(a), Py::Bytes(b)) => a == b,
            (Py::Tuple(a), Py::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (a, b) => match (a.as_complex(), b.as_complex()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }

    /// CPython's hash, where it does not depend on the process: integers, booleans and floats
    /// with an integral value.
    fn stable_hash(&self) -> Option<i64> {
        const MODULUS: i128 = (1 << 61) - 1;
        let n = match self {
            Py::Bool(b) => i128::from(*b),
            Py::Int(n) => *n,
            Py::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => *f as i128,
            _ => return None,
        };
        let h = (n.abs() % MODULUS) * n.signum();
        Some(if h == -1 { -2 } else { h as i64 })
    }

    fn to_json(&self) -> Option<Value> {
        Some(match self {
            Py::None => Value::Null,
            Py::Bool(b) => Value::Bool(*b),
            Py::Int(n) => {
                if let Ok(i) = i64::try_from(*n) {
                    Value::from(i)
                } else {
                    Value::from(u64::try_from(*n).ok()?)
                }
            }
            Py::Float(f) => Value::Number(Number::from_f64(*f)?),
            Py::Complex(r, i) => Value::String(complex_repr(*r, *i)),
            Py::Str(s) => Value::String(s.clone()),
            Py::Bytes(b) => Value::String(String::from_utf8(b.clone()).ok()?),
            Py::Ellipsis => Value::String("...".into()),
            Py::List(items) | Py::Tuple(items) | Py::Set(items) => {
                Value::Array(items.iter().map(Py::to_json).collect::<Option<Vec<_>>>()?)
            }
            Py::Dict(pairs) => {
                let mut map = Map::new();
                for (k, v) in pairs {
                    map.insert(k.json_key()?, v.to_json()?);
                }
                Value::Object(map)
            }
        })
    }

    /// The key `json.dumps` writes for a dict key.
    fn json_key(&self) -> Option<String> {
        Some(match self {
            Py::Str(s) => s.clone(),
            Py::Int(n) => n.to_string(),
            Py::Float(f) if f.is_finite() => float_repr(*f),
            Py::Bool(b) => b.to_string(),
            Py::None => "null".into(),
            _ => return None,
        })
    }
}

/// `set(items)` as CPython 3 builds it: an open-addressing table (8 slots to start, linear
/// probes then perturbation, grown to 4× the entries when 3/5 full), iterated slot by slot.
/// Equal items keep the first one written.
fn make_set(items: Vec<Py>) -> Option<Py> {
    if !items.iter().all(Py::hashable) {
        return None;
    }
    let mut unique: Vec<Py> = Vec::new();
    for item in items {
        if !unique.iter().any(|u| u.py_eq(&item)) {
            unique.push(item);
        }
    }
    let hashes: Option<Vec<i64>> = unique.iter().map(Py::stable_hash).collect();
    let Some(hashes) = hashes else {
        return Some(Py::Set(unique));
    };
    const LINEAR_PROBES: usize = 9;
    fn insert(table: &mut [Option<(i64, usize)>], hash: i64, index: usize) {
        let mask = table.len() - 1;
        let mut perturb = hash as u64;
        let mut i = (hash as u64 as usize) & mask;
        loop {
            let probes = if i + LINEAR_PROBES <= mask {
                LINEAR_PROBES
            } else {
                0
            };
            if let Some(slot) = table[i..=i + probes].iter_mut().find(|s| s.is_none()) {
                *slot = Some((hash, index));
                return;
            }
            perturb >>= 5;
            i = (i
                .wrapping_mul(5)
                .wrapping_add(1)
                .wrapping_add(perturb as usize))
                & mask;
        }
    }
    let mut table: Vec<Option<(i64, usize)>> = vec![None; 8];
    for (index, hash) in hashes.into_iter().enumerate() {
        insert(&mut table, hash, index);
        let (fill, mask) = (index + 1, table.len() - 1);
        if fill * 5 >= mask * 3 {
            let mut size = 8;
            while size <= fill * 4 {
                size <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; size]);
            for (h, k) in old.into_iter().flatten() {
                insert(&mut table, h, k);
            }
        }
    }
    let mut slots: Vec<Option<Py>> = unique.into_iter().map(Some).collect();
    Some(Py::Set(
        table
            .into_iter()
            .flatten()
            .filter_map(|(_, k)| slots[k].take())
            .collect(),
    ))
}

/// Python's `repr(float)`: the shortest text that reads back, `1.0`, `0.0001`, `1e-05`, `1e+16`.
pub(crate) fn float_repr(f: f64) -> String {
    let mut s = float_repr_no_dot(f);
    if f.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// As `repr(float)`, without the `.0` of an integral value (how complex numbers show parts).
fn float_repr_no_dot(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} writes an exponent");
    let digits = mantissa.replace('.', "");
    let decpt = exp.parse::<i32>().expect("{:e} writes an integer exponent") + 1;
    let body = if decpt > -4 && decpt <= 16 {
        if decpt <= 0 {
            format!("0.{}{digits}", "0".repeat((-decpt) as usize))
        } else if decpt as usize >= digits.len() {
            format!("{digits}{}", "0".repeat(decpt as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..decpt as usize],
                &digits[decpt as usize..]
            )
        }
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let e = decpt - 1;
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    };
    format!("{sign}{body}")
}

/// Python's `repr(complex)`: `2j`, `(1+2j)`, `(-0-1j)`.
fn complex_repr(re: f64, im: f64) -> String {
    let imag = float_repr_no_dot(im);
    if re == 0.0 && re.is_sign_positive() {
        return format!("{imag}j");
    }
    let sign = if im.is_sign_negative() || im.is_nan() && imag.starts_with('-') {
        ""
    } else {
        "+"
    };
    format!("({}{sign}{imag}j)", float_repr_no_dot(re))
}

/// What an expression is, for the places literal_eval accepts only numbers.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A number literal (perhaps in parentheses).
    Number,
    /// `-` or `+` before a number literal.
    Signed,
    Other,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    /// Whitespace and `#` comments, as Python's tokenizer skips them.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'#' {
                self.i = self.s.len();
            } else if c.is_ascii_whitespace() || c == b'\x0c' {
                self.i += 1;
            } else {
                break;
            }
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

    /// An expression literal_eval accepts: a literal, `-`/`+` before a number, and
    /// `number ± imaginary` (a complex number).
    fn expr(&mut self) -> Option<(Py, Kind)> {
        let (left, left_kind) = self.signed()?;
        let save = self.i;
        self.skip_ws();
        let op = self.peek();
        if matches!(op, Some(b'+') | Some(b'-')) && left_kind != Kind::Other {
            self.i += 1;
            let (right, right_kind) = self.operand()?;
            let re = match left {
                Py::Int(n) => n as f64,
                Py::Float(f) => f,
                _ => return None,
            };
            let (Py::Complex(_, im), Kind::Number) = (right, right_kind) else {
                return None;
            };
            // int/float ± complex, as Python computes it.
            return Some((
                if op == Some(b'+') {
                    Py::Complex(re + 0.0, 0.0 + im)
                } else {
                    Py::Complex(re - 0.0, 0.0 - im)
                },
                Kind::Other,
            ));
        }
        self.i = save;
        Some((left, left_kind))
    }

    fn value(&mut self) -> Option<Py> {
        self.expr().map(|(v, _)| v)
    }

    /// An operand, or `-`/`+` before a number literal.
    fn signed(&mut self) -> Option<(Py, Kind)> {
        self.skip_ws();
        let Some(sign @ (b'-' | b'+')) = self.peek() else {
            return self.operand();
        };
        self.i += 1;
        let (v, Kind::Number) = self.operand()? else {
            return None;
        };
        let v = match (sign, v) {
            (b'+', v) => v,
            (_, Py::Int(n)) => Py::Int(-n),
            (_, Py::Float(f)) => Py::Float(-f),
            (_, Py::Complex(r, i)) => Py::Complex(-r, -i),
            _ => return None,
        };
        Some((v, Kind::Signed))
    }

    /// A literal; parentheses around an expression keep its kind (`-(1)` is -1).
    fn operand(&mut self) -> Option<(Py, Kind)> {
        self.skip_ws();
        match self.peek()? {
            b'(' => {
                self.i += 1;
                if self.eat(b')') {
                    return Some((Py::Tuple(Vec::new()), Kind::Other));
                }
                let (first, kind) = self.expr()?;
                if self.eat(b')') {
                    return Some((first, kind));
                }
                if !self.eat(b',') {
                    return None;
                }
                let mut items = vec![first];
                items.extend(self.items(b')')?);
                Some((Py::Tuple(items), Kind::Other))
            }
            b'[' => {
                self.i += 1;
                Some((Py::List(self.items(b']')?), Kind::Other))
            }
            b'{' => Some((self.brace()?, Kind::Other)),
            b'"' | b'\'' => Some((self.strings()?, Kind::Other)),
            b'0'..=b'9' => Some((self.number()?, Kind::Number)),
            b'.' if self.s[self.i..].starts_with(b"...") => {
                self.i += 3;
                Some((Py::Ellipsis, Kind::Other))
            }
            b'.' => Some((self.number()?, Kind::Number)),
            _ => self.name().map(|v| (v, Kind::Other)),
        }
    }

    /// Comma-separated expressions up to `close` (a trailing comma allowed).
    fn items(&mut self, close: u8) -> Option<Vec<Py>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value()?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(close) {
                return Some(items);
            }
            return None;
        }
    }

    /// `{}` and `{k: v, …}` are dicts, `{a, b}` a set.
    fn brace(&mut self) -> Option<Py> {
        self.i += 1;
        if self.eat(b'}') {
            return Some(Py::Dict(Vec::new()));
        }
        let first = self.value()?;
        if !self.eat(b':') {
            let mut items = vec![first];
            if self.eat(b',') {
                items.extend(self.items(b'}')?);
            } else if !self.eat(b'}') {
                return None;
            }
            return make_set(items);
        }
        let mut pairs: Vec<(Py, Py)> = Vec::new();
        let mut key = first;
        loop {
            if !key.hashable() {
                return None;
            }
            let value = self.value()?;
            // A repeated key keeps its first spelling and takes the last value.
            match pairs.iter_mut().find(|(k, _)| k.py_eq(&key)) {
                Some(pair) => pair.1 = value,
                None => pairs.push((key, value)),
            }
            if self.eat(b',') {
                if self.eat(b'}') {
                    break;
                }
            } else if self.eat(b'}') {
                break;
            } else {
                return None;
            }
            key = self.value()?;
            if !self.eat(b':') {
                return None;
            }
        }
        Some(Py::Dict(pairs))
    }

    /// `True`, `False`, `None`, `set()`, and string literals with a prefix (`r''`, `b""`).
    fn name(&mut self) -> Option<Py> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        let word = &self.s[start..self.i];
        match word {
            b"True" => return Some(Py::Bool(true)),
            b"False" => return Some(Py::Bool(false)),
            b"None" => return Some(Py::None),
            b"set" => {
                return (self.eat(b'(') && self.eat(b')')).then(|| Py::Set(Vec::new()));
            }
            _ => {}
        }
        if matches!(self.peek(), Some(b'"' | b'\'')) && string_prefix(word).is_some() {
            self.i = start;
            return self.strings();
        }
        None
    }

    /// One or more adjacent string literals, joined (`'a' 'b'` is `'ab'`); bytes only with bytes.
    fn strings(&mut self) -> Option<Py> {
        let mut text: Option<String> = None;
        let mut bytes: Option<Vec<u8>> = None;
        loop {
            self.skip_ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
                self.i += 1;
            }
            let (raw, is_bytes) = match string_prefix(&self.s[start..self.i]) {
                Some(p) if matches!(self.peek(), Some(b'"' | b'\'')) => p,
                _ => {
                    self.i = start;
                    break;
                }
            };
            let content = self.string_body(raw)?;
            if is_bytes {
                if text.is_some() || !content.is_ascii() {
                    return None;
                }
                bytes.get_or_insert_with(Vec::new).extend(content.bytes());
            } else {
                if bytes.is_some() {
                    return None;
                }
                text.get_or_insert_with(String::new).push_str(&content);
            }
        }
        match (text, bytes) {
            (Some(t), None) => Some(Py::Str(t)),
            (None, Some(b)) => Some(Py::Bytes(b)),
            _ => None,
        }
    }

    /// The text of one quoted literal (single or triple quotes), escapes applied unless raw.
    fn string_body(&mut self, raw: bool) -> Option<String> {
        let quote = self.s[self.i];
        let triple = self.s[self.i..].starts_with(&[quote; 3]);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        let rest = std::str::from_utf8(&self.s[self.i..]).ok()?;
        let mut chars = rest.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c as u32 == u32::from(quote)
                && (!triple || rest[at..].starts_with(std::str::from_utf8(&[quote; 3]).ok()?))
            {
                self.i += at + if triple { 3 } else { 1 };
                return Some(out);
            }
            if c == '\\' {
                let (_, e) = chars.next()?;
                if raw {
                    out.push('\\');
                    out.push(e);
                    continue;
                }
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' | '\'' | '"' => out.push(e),
                    '0'..='7' => {
                        let mut n = e.to_digit(8)?;
                        for _ in 0..2 {
                            match chars.peek() {
                                Some((_, d @ '0'..='7')) => {
                                    n = n * 8 + d.to_digit(8)?;
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        out.push(char::from_u32(n)?);
                    }
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut n = 0u32;
                        for _ in 0..len {
                            n = n * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(n)?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            } else {
                if !triple && c == '\n' {
                    return None;
                }
                out.push(c);
            }
        }
        None
    }

    /// A Python numeric literal: decimal, `0x`/`0o`/`0b`, `_` between digits, floats, `j`.
    fn number(&mut self) -> Option<Py> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'.' | b'_' | b'+' | b'-'))
        {
            // A sign only belongs to an exponent.
            if matches!(self.s[self.i], b'+' | b'-')
                && !(matches!(self.s[self.i - 1], b'e' | b'E')
                    && !self.s[start..].starts_with(b"0x")
                    && !self.s[start..].starts_with(b"0X"))
            {
                break;
            }
            self.i += 1;
        }
        let body = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        let lower = body.to_ascii_lowercase();
        let (lower, imaginary) = match lower.strip_suffix('j') {
            Some(l) => (l.to_string(), true),
            None => (lower, false),
        };
        let digits_ok = |d: &str, radix: u32| {
            !d.is_empty()
                && !d.starts_with('_')
                && !d.ends_with('_')
                && !d.contains("__")
                && d.chars().all(|c| c == '_' || c.is_digit(radix))
        };
        if !imaginary {
            for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
                if let Some(d) = lower.strip_prefix(prefix) {
                    let d = d.strip_prefix('_').unwrap_or(d);
                    if !digits_ok(d, radix) {
                        return None;
                    }
                    return i128::from_str_radix(&d.replace('_', ""), radix)
                        .ok()
                        .map(Py::Int);
                }
            }
            if digits_ok(&lower, 10) {
                let clean = lower.replace('_', "");
                // Python 3 refuses leading zeros (`0644` is a syntax error): the value stays a string.
                if clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
                    return None;
                }
                return clean.parse::<i128>().ok().map(Py::Int);
            }
        }
        // A float: digits with a point and/or an exponent (or any decimal digits before `j`).
        let (mantissa, exponent) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        if let Some(e) = exponent {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !digits_ok(e, 10) {
                return None;
            }
        }
        let (whole, frac) = match mantissa.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (mantissa, None),
        };
        let whole_ok = whole.is_empty() || digits_ok(whole, 10);
        let frac_ok = frac.is_none_or(|f| f.is_empty() || digits_ok(f, 10));
        let some_digits = !whole.is_empty() || frac.is_some_and(|f| !f.is_empty());
        if !(whole_ok && frac_ok && some_digits)
            || (frac.is_none() && exponent.is_none() && !imaginary)
        {
            return None;
        }
        let f = lower.replace('_', "").parse::<f64>().ok()?;
        Some(if imaginary {
            Py::Complex(0.0, f)
        } else {
            Py::Float(f)
        })
    }
}

/// A string prefix Python accepts in a literal (f-strings are not literals): (raw, bytes).
fn string_prefix(word: &[u8]) -> Option<(bool, bool)> {
    let lower = word.to_ascii_lowercase();
    match lower.as_slice() {
        b"" | b"u" => Some((false, false)),
        b"r" => Some((true, false)),
        b"b" => Some((false, true)),
        b"rb" | b"br" => Some((true, true)),
        _ => None,
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
            // Python comments after a literal.
            ("1 # port", json!(1)),
            ("'a # b' # c", json!("a # b")),
            // Sets become lists in CPython's order (by hash: small ints by value modulo the
            // table size, -1 hashes as -2), equal items once.
            ("{1,2}", json!([1, 2])),
            ("{10, 1, 9}", json!([1, 10, 9])),
            ("{100, 7, 33}", json!([33, 100, 7])),
            ("{-1, -2, 5}", json!([5, -1, -2])),
            ("{True, 1, 0, False}", json!([0, true])),
            // (orders printed by CPython 3.11's ast.literal_eval; the last one grows the table)
            (
                "{8, 16, 24, 32, 40, 48, 1}",
                json!([32, 1, 8, 40, 16, 48, 24]),
            ),
            ("{300, 4, 12, 20, 28, 36}", json!([4, 36, 12, 300, 20, 28])),
            (
                "{64, 0, 8, 1, 72, 9, 17, 65, 33, 5, 13}",
                json!([64, 0, 1, 65, 33, 5, 72, 8, 9, 13, 17]),
            ),
            (
                "{4611686018427387904, 1, 2305843009213693952, -2305843009213693952}",
                json!([
                    1,
                    4611686018427387904u64,
                    2305843009213693952u64,
                    -2305843009213693952i64
                ]),
            ),
            ("set()", json!([])),
            ("[1, {2, 3}]", json!([1, [2, 3]])),
            // Dict keys as JSON writes them; a repeated key keeps its first spelling.
            (
                "{1: 'a', True: 'b', 2.5: 'x', None: 'n'}",
                json!({"1": "b", "2.5": "x", "null": "n"}),
            ),
            ("{True: 1, False: 2}", json!({"true": 1, "false": 2})),
            ("{'a': 1, 'a': 2,}", json!({"a": 2})),
            // Complex numbers, `...` and bytes as Ansible turns them into text.
            ("1j", json!("1j")),
            ("2.0j", json!("2j")),
            ("-1j", json!("(-0-1j)")),
            ("1+2j", json!("(1+2j)")),
            ("-(1)", json!(-1)),
            ("1e16", json!(1e16)),
            ("...", json!("...")),
            ("'a' \"b\" r'\\n'", json!("ab\\n")),
            ("'\\x41\\u00e9\\101'", json!("AéA")),
            ("0b101", json!(5)),
            ("0x_1f", json!(31)),
            ("18446744073709551615", json!(18446744073709551615u64)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_value(text), want, "{text}");
        }
    }

    #[test]
    fn everything_else_stays_a_string() {
        for text in [
            "yes",
            "true",
            "0644",
            "a b",
            "{k:1}",
            "/srv/www",
            "10.0.0.1",
            "1.2.3",
            "",
            "[1, 2",
            "web01",
            "--1",
            "+-1",
            "1__0",
            "1.5.3",
            "#x",
            "1if 1 else 2",
            "-(1+2j)",
            "b'a' 'b'",
            "{[1]}",
            "f'x'",
            "2**3",
        ] {
            assert_eq!(parse_value(text), json!(text), "{text}");
        }
    }
}
