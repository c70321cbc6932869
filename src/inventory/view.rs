//! The inventory as `ansible-inventory` shows it: `--list` (JSON with sorted keys), `--graph`,
//! `--host NAME`. Same shapes, orders and quirks, so outputs can be compared line for line.

use super::{ALL, Inventory};
use serde_json::{Map, Value};

impl Inventory {
    /// Groups whose only parent is `all`, in the order they were created (`ungrouped` first).
    pub fn top_groups(&self) -> Vec<String> {
        self.groups
            .keys()
            .filter(|g| g.as_str() != ALL)
            .filter(|g| !self.groups.values().any(|p| p.children.contains(g)))
            .cloned()
            .collect()
    }

    fn children_of(&self, group: &str) -> Vec<String> {
        if group == ALL {
            self.top_groups()
        } else {
            self.groups
                .get(group)
                .map(|g| g.children.clone())
                .unwrap_or_default()
        }
    }

    fn direct_hosts(&self, group: &str) -> Vec<String> {
        self.groups
            .get(group)
            .map(|g| g.hosts.clone())
            .unwrap_or_default()
    }
}

/// `ansible-inventory --list`.
pub fn list(inv: &Inventory) -> Value {
    let mut out = Map::new();
    let mut seen = Vec::new();
    format_group(inv, ALL, &mut out, &mut seen);
    let mut hostvars = Map::new();
    for host in inv.hosts.keys() {
        let vars = inv.host_vars(host);
        if !vars.is_empty() {
            hostvars.insert(host.clone(), Value::Object(vars.into_iter().collect()));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    meta.insert("profile".into(), Value::String("inventory_legacy".into()));
    out.insert("_meta".into(), Value::Object(meta));
    Value::Object(out)
}

fn format_group(inv: &Inventory, name: &str, out: &mut Map<String, Value>, seen: &mut Vec<String>) {
    let mut entry = Map::new();
    if name != ALL {
        let hosts = inv.direct_hosts(name);
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::from(hosts));
        }
    }
    let children = inv.children_of(name);
    for child in &children {
        if !seen.contains(child) {
            seen.push(child.clone());
            format_group(inv, child, out, seen);
        }
    }
    // As in Ansible, an empty group is left out but still named among its parent's children.
    if !children.is_empty() {
        entry.insert("children".into(), Value::from(children));
    }
    if !entry.is_empty() {
        out.insert(name.to_string(), Value::Object(entry));
    }
}

/// `ansible-inventory --graph [GROUP]`.
pub fn graph(inv: &Inventory, group: &str) -> Option<String> {
    if !inv.groups.contains_key(group) {
        return None;
    }
    let mut lines = Vec::new();
    graph_group(inv, group, 0, &mut lines);
    Some(lines.join("\n"))
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_group(inv: &Inventory, group: &str, depth: usize, lines: &mut Vec<String>) {
    lines.push(graph_name(&format!("@{group}:"), depth));
    for child in inv.children_of(group) {
        graph_group(inv, &child, depth + 1, lines);
    }
    if group != ALL {
        for host in inv.direct_hosts(group) {
            lines.push(graph_name(&host, depth + 1));
        }
    }
}

/// `ansible-inventory --host NAME`: the host's merged variables.
pub fn host(inv: &Inventory, name: &str) -> Option<Value> {
    inv.hosts
        .contains_key(name)
        .then(|| Value::Object(inv.host_vars(name).into_iter().collect()))
}

/// serde_json's pretty printer, with floats as Python writes them (`1e+16`, `1e-05`).
struct PythonFloats<'a>(serde_json::ser::PrettyFormatter<'a>);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.0.$name(writer $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for PythonFloats<'_> {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }

    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        writer.write_all(super::literal::float_repr(value).as_bytes())
    }
}

/// JSON as ansible-core 2.19 writes it: `json.dumps(sort_keys=True, indent=4)` with `ensure_ascii=False`
/// (`é` stays `é`) and floats as Python writes them.
pub fn to_ansible_json(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut buf = Vec::new();
    let formatter = PythonFloats(serde_json::ser::PrettyFormatter::with_indent(b"    "));
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    serde::Serialize::serialize(&sorted(value), &mut ser).expect("JSON values serialise");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn list_graph_and_host() {
        let inv = Inventory::parse(
            Path::new("i"),
            "lonely\n[web]\nw1 p=80\n[db:children]\nweb\n[empty]\n[db:vars]\nlevel=db\n",
        )
        .unwrap();
        let l = list(&inv);
        assert_eq!(
            l["all"]["children"],
            serde_json::json!(["ungrouped", "db", "empty"])
        );
        assert_eq!(l["db"]["children"], serde_json::json!(["web"]));
        assert!(l.get("empty").is_none());
        assert_eq!(
            l["_meta"]["hostvars"]["w1"],
            serde_json::json!({"p": 80, "level": "db"})
        );
        assert_eq!(
            graph(&inv, "all").unwrap(),
            "@all:\n  |--@ungrouped:\n  |  |--lonely\n  |--@db:\n  |  |--@web:\n  |  |  |--w1\n  |--@empty:"
        );
        assert_eq!(host(&inv, "w1").unwrap()["level"], "db");
        assert!(host(&inv, "nobody").is_none());
        assert_eq!(
            to_ansible_json(&serde_json::json!({"b": 1, "a": ["é"]})),
            "{\n    \"a\": [\n        \"é\"\n    ],\n    \"b\": 1\n}"
        );
        assert_eq!(
            to_ansible_json(&serde_json::json!([
                1.0, 1e16, 1e-5, 0.0001, 1.5e-10, -0.0, 123.25
            ])),
            "[\n    1.0,\n    1e+16,\n    1e-05,\n    0.0001,\n    1.5e-10,\n    -0.0,\n    123.25\n]"
        );
    }
}
