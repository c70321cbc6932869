//! Module arguments written as one string, as Ansible accepts them: `file: path=/x state=directory`,
//! `command: ls -l chdir=/tmp`, and the `args:` keyword beside the module. The pairs are read into
//! a map of [`ArgValue`]s that the module's own argument type deserializes, so both forms reach
//! the same checks.

use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use std::fmt;

/// One word of a free-form string: its text as written (quotes kept), and, when it has the form
/// `key=value`, the key and the unquoted value.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub raw: String,
    pub pair: Option<(String, String)>,
}

/// Splits on whitespace outside quotes, as Ansible's `split_args` does for a single line.
pub fn words(text: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    // Inside `{{ }}` or `{% %}` spaces do not split, as in Ansible's split_args.
    let mut jinja = 0usize;
    let mut previous = ' ';
    for c in text.chars() {
        let pair = (previous, c);
        previous = c;
        if escaped {
            raw.push(c);
            escaped = false;
            continue;
        }
        match pair {
            ('{', '{' | '%') => jinja += 1,
            ('}' | '%', '}') => jinja = jinja.saturating_sub(1),
            _ => {}
        }
        if jinja > 0 && quote.is_none() && c.is_whitespace() {
            raw.push(c);
            continue;
        }
        match (c, quote) {
            ('\\', _) => {
                raw.push(c);
                escaped = true;
            }
            ('"' | '\'', None) => {
                quote = Some(c);
                raw.push(c);
            }
            (q, Some(open)) if q == open => {
                quote = None;
                raw.push(c);
            }
            (c, None) if c.is_whitespace() => {
                if !raw.is_empty() {
                    out.push(std::mem::take(&mut raw));
                }
            }
            _ => raw.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in `{text}`"));
    }
    if !raw.is_empty() {
        out.push(raw);
    }
    Ok(out
        .into_iter()
        .map(|raw| {
            let pair = raw.split_once('=').and_then(|(k, v)| {
                let key_ok = !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !k.starts_with(|c: char| c.is_ascii_digit());
                key_ok.then(|| (k.to_string(), unquote(v)))
            });
            Word { raw, pair }
        })
        .collect())
}

fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return decode_escapes(&value[1..value.len() - 1]);
        }
    }
    decode_escapes(value)
}

/// Backslash escapes in a `key=value` value, as Ansible decodes them (`content="a\nb"` is two
/// lines).
fn decode_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' || i == chars.len() {
            out.push(c);
            continue;
        }
        let next = chars[i];
        i += 1;
        let simple = match next {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' | '\'' | '"' => Some(next),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            continue;
        }
        let width = match next {
            'x' => 2,
            'u' => 4,
            _ => 0,
        };
        let digits: String = chars.iter().skip(i).take(width).collect();
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(decoded) if width > 0 && digits.len() == width => {
                out.push(decoded);
                i += width;
            }
            _ => {
                out.push('\\');
                out.push(next);
            }
        }
    }
    out
}

/// `key=value key2="two words"`: every word must be a pair.
pub fn key_values(text: &str) -> Result<Vec<(String, ArgValue)>, String> {
    words(text)?
        .into_iter()
        .map(|w| match w.pair {
            Some((k, v)) => Ok((k, ArgValue::Text(v))),
            None => Err(format!(
                "`{}` is not of the form key=value (arguments as one string are `key=value` pairs separated by spaces)",
                w.raw
            )),
        })
        .collect()
}

/// A value of a free-form pair (always text, read as the argument's type wants it, as Ansible
/// converts module arguments), or of an `args:` mapping (YAML already gave it a type).
#[derive(Debug, Clone)]
pub enum ArgValue {
    Text(String),
    Yaml(serde_json::Value),
}

/// Ansible's `boolean()`: the words a module accepts for a boolean argument.
pub fn ansible_boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
        _ => None,
    }
}

type Error = de::value::Error;

impl<'de> IntoDeserializer<'de, Error> for ArgValue {
    type Deserializer = ArgValue;
    fn into_deserializer(self) -> ArgValue {
        self
    }
}

macro_rules! yaml_or_text {
    ($($method:ident => $text:expr;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self {
                    ArgValue::Yaml(v) => v.$method(visitor).map_err(de::Error::custom),
                    ArgValue::Text(t) => {
                        let convert: fn(String, V) -> Result<V::Value, Error> = $text;
                        convert(t, visitor)
                    }
                }
            }
        )*
    };
}

fn number<'de, V: Visitor<'de>>(text: String, visitor: V) -> Result<V::Value, Error> {
    if let Ok(n) = text.parse::<u64>() {
        return visitor.visit_u64(n);
    }
    if let Ok(n) = text.parse::<i64>() {
        return visitor.visit_i64(n);
    }
    if let Ok(n) = text.parse::<f64>() {
        return visitor.visit_f64(n);
    }
    Err(de::Error::custom(format!("`{text}` is not a number")))
}

impl<'de> Deserializer<'de> for ArgValue {
    type Error = Error;

    yaml_or_text! {
        deserialize_any => |t, v| v.visit_string(t);
        deserialize_str => |t, v| v.visit_string(t);
        deserialize_string => |t, v| v.visit_string(t);
        deserialize_identifier => |t, v| v.visit_string(t);
        deserialize_bool => |t, v| match ansible_boolean(&t) {
            Some(b) => v.visit_bool(b),
            None => Err(de::Error::custom(format!("`{t}` is not a boolean (yes/no, true/false)"))),
        };
        deserialize_u8 => number;
        deserialize_u16 => number;
        deserialize_u32 => number;
        deserialize_u64 => number;
        deserialize_i8 => number;
        deserialize_i16 => number;
        deserialize_i32 => number;
        deserialize_i64 => number;
        deserialize_f32 => number;
        deserialize_f64 => number;
        deserialize_seq => |t, v| {
            // Ansible's list arguments take a comma-separated string.
            let items: Vec<ArgValue> = t.split(',').map(|s| ArgValue::Text(s.trim().to_string())).collect();
            v.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
        };
        deserialize_ignored_any => |_, v| v.visit_unit();
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            ArgValue::Yaml(serde_json::Value::Null) => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct map struct enum
    }
}

/// Reads a module's argument type from pairs.
pub fn from_pairs<T: for<'de> de::Deserialize<'de>>(
    pairs: Vec<(String, ArgValue)>,
) -> Result<T, String> {
    let map = de::value::MapDeserializer::<_, Error>::new(pairs.into_iter());
    super::arguments::<T, _>(map).map_err(|e| e.to_string())
}

impl fmt::Display for ArgValue {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ArgValue::Text(t) | ArgValue::Yaml(serde_json::Value::String(t)) => f.write_str(t),
            ArgValue::Yaml(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_spaces_together() {
        let w = words(r#"path=/x msg="two words" echo 'a b'"#).unwrap();
        let raws: Vec<&str> = w.iter().map(|w| w.raw.as_str()).collect();
        assert_eq!(raws, ["path=/x", r#"msg="two words""#, "echo", "'a b'"]);
        assert_eq!(w[1].pair, Some(("msg".into(), "two words".into())));
        assert_eq!(w[2].pair, None);
        // Escapes are decoded as Ansible's parse_kv does.
        let w = words(r#"content="a\nb" z=a\tb q=\d u=\x41"#).unwrap();
        assert_eq!(w[0].pair, Some(("content".into(), "a\nb".into())));
        assert_eq!(w[1].pair, Some(("z".into(), "a\tb".into())));
        assert_eq!(w[2].pair, Some(("q".into(), "\\d".into())));
        assert_eq!(w[3].pair, Some(("u".into(), "A".into())));
        assert!(words("a='b").is_err());
        let w = words("dest={{ app_dir }}/x.conf mode={% if a %}0640{% endif %} z=1").unwrap();
        assert_eq!(
            w[0].pair,
            Some(("dest".into(), "{{ app_dir }}/x.conf".into()))
        );
        assert_eq!(
            w[1].pair,
            Some(("mode".into(), "{% if a %}0640{% endif %}".into()))
        );
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn key_values_refuse_bare_words() {
        assert_eq!(key_values("a=1 b=").unwrap().len(), 2);
        let err = key_values("path=/x directory").unwrap_err();
        assert!(err.contains("`directory`"), "{err}");
    }

    #[test]
    fn text_values_read_as_the_argument_wants() {
        #[derive(serde::Deserialize, Debug)]
        struct A {
            force: bool,
            count: u32,
            name: String,
            items: Vec<String>,
            maybe: Option<bool>,
        }
        let pairs = key_values("force=yes count=3 name=x items=a,b maybe=off").unwrap();
        let a: A = from_pairs(pairs).unwrap();
        assert!(a.force);
        assert_eq!(a.count, 3);
        assert_eq!(a.name, "x");
        assert_eq!(a.items, ["a", "b"]);
        assert_eq!(a.maybe, Some(false));
        let err =
            from_pairs::<A>(key_values("force=maybe count=1 name=x items=a").unwrap()).unwrap_err();
        assert!(
            err.contains("force") && err.contains("not a boolean"),
            "{err}"
        );
    }
}
