//! `group_vars/` and `host_vars/` beside an inventory or a playbook, as Ansible reads them:
//! `group_vars/<group>` as a YAML file (`<group>.yml`, `.yaml`, `.json` or no extension) or a
//! directory of such files (read in name order); their values go over the inventory's own
//! values at the same level (a host's still beat any group's).

use super::{Inventory, InventoryError};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

const EXTENSIONS: &[&str] = &["", ".yml", ".yaml", ".json"];

impl Inventory {
    /// Reads `dir/group_vars` and `dir/host_vars` (either may be absent).
    pub fn add_vars_dirs(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for group in names {
            let vars = read_vars(&dir.join("group_vars"), &group)?;
            if !vars.is_empty() {
                self.group_mut(&group).vars.extend(vars);
            }
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for host in hosts {
            let vars = read_vars(&dir.join("host_vars"), &host)?;
            if let Some(h) = self.hosts.get_mut(&host) {
                h.vars.extend(vars);
            }
        }
        Ok(())
    }
}

/// The variables for `name` under `base`: its files, in the order Ansible takes them.
fn read_vars(base: &Path, name: &str) -> Result<Map<String, Value>, InventoryError> {
    let mut merged = Map::new();
    if !base.is_dir() {
        return Ok(merged);
    }
    for ext in EXTENSIONS {
        let path = base.join(format!("{name}{ext}"));
        if path.is_file() {
            merged.extend(read_file(&path)?);
        }
    }
    let dir = base.join(name);
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| InventoryError::Read {
                path: dir.clone(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && EXTENSIONS[1..]
                        .iter()
                        .any(|ext| p.to_string_lossy().ends_with(ext))
            })
            .collect();
        files.sort();
        for path in files {
            merged.extend(read_file(&path)?);
        }
    }
    Ok(merged)
}

fn read_file(path: &Path) -> Result<Map<String, Value>, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
        path: path.to_owned(),
        source,
    })?;
    crate::yaml::vars_from_str(&text).map_err(|(line, message)| InventoryError::Syntax {
        path: path.to_owned(),
        line,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_over_the_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let inv_path = dir.path().join("hosts");
        std::fs::write(
            &inv_path,
            "[web]\nw1 port=1\n[web:vars]\ncolour=red\nsize=s\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars/web")).unwrap();
        std::fs::create_dir_all(dir.path().join("host_vars")).unwrap();
        std::fs::write(dir.path().join("group_vars/all.yml"), "region: north\n").unwrap();
        std::fs::write(dir.path().join("group_vars/web/a.yml"), "colour: blue\n").unwrap();
        std::fs::write(
            dir.path().join("group_vars/web/b.yaml"),
            "colour: green\nmode: 0644\nflag: yes\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("host_vars/w1"), "size: xl\nport: 2\n").unwrap();
        let mut inv =
            Inventory::parse(&inv_path, &std::fs::read_to_string(&inv_path).unwrap()).unwrap();
        inv.add_vars_dirs(dir.path()).unwrap();
        let v = inv.host_vars("w1");
        assert_eq!(v["region"], "north");
        assert_eq!(v["colour"], "green", "later files win");
        assert_eq!(v["size"], "xl", "host_vars beat group vars");
        assert_eq!(v["port"], 2, "host_vars beat the host's line");
        assert_eq!(v["mode"], 420, "YAML 1.1: 0644 is octal");
        assert_eq!(v["flag"], true);
    }

    #[test]
    fn a_bad_file_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let inv_path = dir.path().join("hosts");
        std::fs::write(&inv_path, "[web]\nw1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
        std::fs::write(dir.path().join("group_vars/web.yml"), "a: 1\nb: [\n").unwrap();
        let mut inv = Inventory::parse(&inv_path, "[web]\nw1\n").unwrap();
        let err = inv.add_vars_dirs(dir.path()).unwrap_err().to_string();
        assert!(
            Inventory::load(&inv_path).is_err(),
            "load reads the vars beside the inventory"
        );
        assert!(err.contains("group_vars/web.yml:"), "{err}");
    }
}
