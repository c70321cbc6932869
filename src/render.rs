//! Templating of task arguments and template files with minijinja. Undefined variables are errors.

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, UndefinedBehavior, Value};
use serde_saphyr::Spanned;
use std::sync::Arc;

/// Where a value came from in a task file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// Stands for the module key of the task, for errors about the arguments as a whole.
    pub const MODULE: Pos = Pos { line: 0, column: 0 };
}

impl<T> From<&Spanned<T>> for Pos {
    fn from(s: &Spanned<T>) -> Pos {
        Pos {
            line: s.referenced.line() as u32,
            column: s.referenced.column() as u32,
        }
    }
}

/// Stands for a value known only while the run goes on (a registered result, a fact) when tasks
/// are checked before any host is contacted: every attribute of it exists and is unknown too.
#[derive(Debug)]
pub struct Unknown;

impl Object for Unknown {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        Some(Value::from_object(Unknown))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(known at run time)")
    }
}

/// Says whether a message is minijinja's "undefined" error as `explain` words it.
pub fn is_undefined_message(message: &str) -> bool {
    message.contains("undefined variable")
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
    /// Line inside the rendered text (for template files).
    pub line: Option<usize>,
}

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // As Ansible: no escaping, whatever the template's name (minijinja would JSON-escape values
    // in `x.json.j2` and HTML-escape them in `x.html.j2`).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Jinja2 and Ansible keep the final newline of a template; files must be byte-identical.
    // Ansible's templating drops the newline after a block tag (`{% for %}` on its own line
    // leaves no blank line) and writes `none` as nothing.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    // Ansible's tests on a registered result: `when: result is changed`.
    fn flag(value: &Value, name: &str) -> bool {
        value.get_attr(name).is_ok_and(|v| v.is_true())
    }
    env.add_test("changed", |v: Value| flag(&v, "changed"));
    env.add_test("failed", |v: Value| flag(&v, "failed"));
    env.add_test("skipped", |v: Value| flag(&v, "skipped"));
    env.add_test("succeeded", |v: Value| !flag(&v, "failed"));
    env.add_test("success", |v: Value| !flag(&v, "failed"));
    env.set_formatter(|out, state, value| match value.kind() {
        minijinja::value::ValueKind::None => Ok(()),
        minijinja::value::ValueKind::Bool
        | minijinja::value::ValueKind::Seq
        | minijinja::value::ValueKind::Map => {
            let mut text = String::new();
            python_repr(value, &mut text);
            out.write_str(&text).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env
}

/// A value as Python prints it, as Jinja2 writes a boolean, list or mapping into text
/// (`True`, `['a', 1]`, `{'k': None}`).
fn python_repr(value: &Value, out: &mut String) {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            let quote = if text.contains('\'') && !text.contains('"') {
                '"'
            } else {
                '\''
            };
            out.push(quote);
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c if c == quote => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(quote);
        }
        ValueKind::Seq => {
            out.push('[');
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&item, out);
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&key, out);
                out.push_str(": ");
                python_repr(&value.get_item(&key).unwrap_or_default(), out);
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
    }
}

pub fn explain(err: &minijinja::Error) -> RenderError {
    let mut message = match err.kind() {
        minijinja::ErrorKind::UndefinedError => {
            let what = err
                .template_source()
                .and_then(|src| err.range().map(|r| src[r].to_string()));
            match what {
                Some(expr) => format!("undefined variable in `{expr}`"),
                None => "undefined variable".to_string(),
            }
        }
        _ => err.to_string(),
    };
    if let Some(detail) = err.detail()
        && err.kind() != minijinja::ErrorKind::UndefinedError
        && !message.contains(detail)
    {
        message = format!("{message}: {detail}");
    }
    RenderError {
        message,
        line: err.line(),
    }
}

/// Renders a string; strings without `{{`/`{%` are returned as they are.
pub fn render_str(env: &Environment, text: &str, vars: &Value) -> Result<String, RenderError> {
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return Ok(text.to_string());
    }
    env.render_str(text, vars).map_err(|e| explain(&e))
}

/// Whether a condition has template delimiters in it (`when: "{{ x }}"`): Ansible renders it
/// first, then evaluates what it gave, and warns.
pub fn condition_has_delimiters(expr: &str) -> bool {
    expr.contains("{{") || expr.contains("{%")
}

/// Evaluates a `when`-style expression to a boolean.
pub fn eval_condition(env: &Environment, expr: &str, vars: &Value) -> Result<bool, RenderError> {
    let rendered;
    let expr = if condition_has_delimiters(expr) {
        rendered = render_str(env, expr, vars)?;
        rendered.as_str()
    } else {
        expr
    };
    let expression = env.compile_expression(expr).map_err(|e| explain(&e))?;
    let value = expression.eval(vars).map_err(|e| explain(&e))?;
    if value.is_undefined() {
        return Err(RenderError {
            message: format!(
                "undefined variable in `{expr}` (test it with `is defined` if it may be absent)"
            ),
            line: None,
        });
    }
    Ok(value.is_true())
}

/// Renders a template file's text; `name` shows in messages.
pub fn render_file(
    env: &Environment,
    name: &str,
    text: &str,
    vars: &Value,
) -> Result<String, RenderError> {
    let mut env = env.clone();
    env.add_template_owned(name.to_string(), text.to_string())
        .map_err(|e| explain(&e))?;
    let template = env.get_template(name).map_err(|e| explain(&e))?;
    template.render(vars).map_err(|e| explain(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_errors() {
        let env = environment();
        let vars = Value::from(minijinja::value::Serde(serde_json::json!({"a": "x"})));
        assert_eq!(render_str(&env, "{{ a }}-b", &vars).unwrap(), "x-b");
        let err = render_str(&env, "{{ nope }}", &vars).unwrap_err();
        assert!(err.message.contains("undefined"), "{}", err.message);
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[test]
    fn template_keeps_trailing_newline_and_reports_line() {
        let env = environment();
        let vars = Value::from(minijinja::value::Serde(serde_json::json!({"a": 1})));
        assert_eq!(
            render_file(&env, "t", "v={{ a }}\n", &vars).unwrap(),
            "v=1\n"
        );
        let err = render_file(&env, "t", "ok\n{{ missing }}\n", &vars).unwrap_err();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn templates_are_never_escaped() {
        let env = environment();
        let vars = Value::from(minijinja::value::Serde(
            serde_json::json!({"ip": "10.0.0.1", "t": "<b>"}),
        ));
        let text = "\"http://{{ ip }}:5984\" {{ t }}";
        assert_eq!(
            render_file(&env, "config.json.j2", text, &vars).unwrap(),
            "\"http://10.0.0.1:5984\" <b>"
        );
        assert_eq!(
            render_file(&env, "page.html.j2", text, &vars).unwrap(),
            "\"http://10.0.0.1:5984\" <b>"
        );
    }

    #[test]
    fn conditions() {
        let env = environment();
        let vars = Value::from(minijinja::value::Serde(
            serde_json::json!({"n": 3, "s": "yes"}),
        ));
        assert!(eval_condition(&env, "n > 2 and s == 'yes'", &vars).unwrap());
        assert!(!eval_condition(&env, "n > 5", &vars).unwrap());
        assert!(eval_condition(&env, "missing", &vars).is_err());
        // Rendered first, then evaluated, as Ansible does (with a warning).
        assert!(eval_condition(&env, "{{ n }} == 3", &vars).unwrap());
        let registered = Value::from(minijinja::value::Serde(
            serde_json::json!({"r": {"changed": true, "failed": false}}),
        ));
        assert!(eval_condition(&env, "r is changed", &registered).unwrap());
        assert!(eval_condition(&env, "r is succeeded and r is not failed", &registered).unwrap());
        assert!(!eval_condition(&env, "{{ n > 5 }}", &vars).unwrap());
    }

    #[test]
    fn blocks_leave_no_blank_lines_and_none_is_empty() {
        let env = environment();
        let vars = Value::from(minijinja::value::Serde(
            serde_json::json!({"xs": [1, 2], "nothing": null}),
        ));
        let text = "a\n{% for x in xs %}\nv={{ x }}\n{% endfor %}\nb=[{{ nothing }}]\n";
        assert_eq!(
            render_file(&env, "t", text, &vars).unwrap(),
            "a\nv=1\nv=2\nb=[]\n"
        );
        // As Python prints them, as Jinja2 writes them.
        assert_eq!(
            render_str(
                &env,
                "{{ true }} {{ xs }} {{ {'k': none, 'q': \"it's\"} }} {{ ['a'] }}",
                &vars
            )
            .unwrap(),
            "True [1, 2] {'k': None, 'q': \"it's\"} ['a']"
        );
    }
}
