//! Facts about a host, gathered in one round trip, and only on hosts where a task refers to one.
//! Named as Ansible names them (`ansible_default_ipv4.address`, `ansible_facts.distribution`).

use serde_json::{Map, Value as Json, json};

/// The variables gathering defines: each fact as `ansible_<name>`, and all of them in `ansible_facts`.
pub const FACT_NAMES: &[&str] = &[
    "ansible_facts",
    "ansible_hostname",
    "ansible_fqdn",
    "ansible_architecture",
    "ansible_kernel",
    "ansible_distribution",
    "ansible_distribution_version",
    "ansible_distribution_release",
    "ansible_os_family",
    "ansible_default_ipv4",
    "ansible_memtotal_mb",
    "ansible_processor_vcpus",
];

/// Prints `key=value` lines; every command has a fallback or prints nothing, so it exits 0.
pub const SCRIPT: &str = r#"echo "hostname=$(hostname 2>/dev/null)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
echo "architecture=$(uname -m)"
echo "kernel=$(uname -r)"
if [ -r /etc/os-release ]; then (. /etc/os-release; echo "os_id=$ID"; echo "os_like=${ID_LIKE:-}"; echo "os_version=${VERSION_ID:-}"; echo "os_codename=${VERSION_CODENAME:-}"); fi
route=$(ip -4 route show default 2>/dev/null | head -n 1)
dev=$(echo "$route" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
echo "gateway=$(echo "$route" | sed -n 's/.* via \([^ ]*\).*/\1/p')"
echo "interface=$dev"
if [ -n "$dev" ]; then echo "address=$(ip -4 -o addr show dev "$dev" 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')"; else echo "address=$(hostname -I 2>/dev/null | awk '{ print $1 }')"; fi
echo "memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null)"
echo "vcpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
"#;

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The facts as variables, from what [`SCRIPT`] printed.
pub fn parse(output: &str) -> Map<String, Json> {
    let field = |key: &str| -> String {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let os_id = field("os_id");
    let like = field("os_like");
    let os_family = if os_id == "debian" || like.split_whitespace().any(|w| w == "debian") {
        "Debian".to_string()
    } else {
        capitalized(like.split_whitespace().next().unwrap_or(&os_id))
    };
    let number = |key: &str| {
        field(key)
            .parse::<u64>()
            .map(Json::from)
            .unwrap_or(Json::Null)
    };
    let facts = json!({
        "hostname": field("hostname"),
        "fqdn": field("fqdn"),
        "architecture": field("architecture"),
        "kernel": field("kernel"),
        "distribution": capitalized(&os_id),
        "distribution_version": field("os_version"),
        "distribution_release": field("os_codename"),
        "os_family": os_family,
        "default_ipv4": {
            "address": field("address"),
            "interface": field("interface"),
            "gateway": field("gateway"),
        },
        "memtotal_mb": field("memtotal_kb").parse::<u64>().map(|kb| Json::from(kb / 1024)).unwrap_or(Json::Null),
        "processor_vcpus": number("vcpus"),
    });
    let Json::Object(facts) = facts else {
        unreachable!("a JSON object literal")
    };
    let mut vars: Map<String, Json> = facts
        .iter()
        .map(|(k, v)| (format!("ansible_{k}"), v.clone()))
        .collect();
    vars.insert("ansible_facts".into(), Json::Object(facts));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_debian_host() {
        let out = "hostname=db1\nfqdn=db1.example\narchitecture=x86_64\nkernel=6.1.0\nos_id=debian\nos_like=\nos_version=12\nos_codename=bookworm\ngateway=172.17.0.1\ninterface=eth0\naddress=172.17.0.5\nmemtotal_kb=2048000\nvcpus=2\n";
        let v = parse(out);
        assert_eq!(v["ansible_hostname"], "db1");
        assert_eq!(v["ansible_distribution"], "Debian");
        assert_eq!(v["ansible_distribution_release"], "bookworm");
        assert_eq!(v["ansible_os_family"], "Debian");
        assert_eq!(v["ansible_default_ipv4"]["address"], "172.17.0.5");
        assert_eq!(v["ansible_memtotal_mb"], 2000);
        assert_eq!(v["ansible_facts"]["processor_vcpus"], 2);
        for name in FACT_NAMES {
            assert!(v.contains_key(*name), "{name}");
        }
        assert_eq!(v.len(), FACT_NAMES.len());
    }

    #[test]
    fn ubuntu_is_of_the_debian_family() {
        let v = parse("os_id=ubuntu\nos_like=debian\n");
        assert_eq!(v["ansible_distribution"], "Ubuntu");
        assert_eq!(v["ansible_os_family"], "Debian");
        assert_eq!(v["ansible_memtotal_mb"], Json::Null);
    }
}
