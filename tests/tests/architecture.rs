//! The crate borders, as `cargo metadata` sees them: each workspace crate depends only on the
//! crates below it (collector → store/notify → site → incident → rules/proto), and the
//! client and the site model link no server code (SQLite, MQTT, HTTP client, SMTP).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every workspace crate and the workspace crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("patrol-proto", &[]),
    ("patrol-rules", &["patrol-proto"]),
    ("patrol-incident", &["patrol-proto"]),
    (
        "patrol-site",
        &["patrol-proto", "patrol-rules", "patrol-incident"],
    ),
    (
        "patrol-store",
        &[
            "patrol-proto",
            "patrol-rules",
            "patrol-incident",
            "patrol-site",
        ],
    ),
    (
        "patrol-notify",
        &[
            "patrol-proto",
            "patrol-incident",
            "patrol-site",
            "patrol-store",
        ],
    ),
    ("patrol-history", &["patrol-proto", "patrol-rules"]),
    (
        "patrolctl",
        &[
            "patrol-proto",
            "patrol-rules",
            "patrol-incident",
            "patrol-site",
        ],
    ),
    (
        "patrol-report",
        &[
            "patrol-proto",
            "patrol-rules",
            "patrol-incident",
            "patrol-site",
        ],
    ),
];

/// Crates (by name) that must not be linked, even indirectly, by the first.
const NEVER: &[(&str, &[&str])] = &[
    (
        "patrolctl",
        &[
            "rusqlite",
            "rumqttc",
            "reqwest",
            "lettre",
            "patrol-store",
            "patrol-notify",
            "patrol-collector",
            "patrol-agent",
        ],
    ),
    ("patrol-site", &["rusqlite", "rumqttc", "reqwest", "lettre"]),
    // The report library does no I/O of its own (tokio comes only through patrol-proto's
    // generated gRPC code, which it does not call).
    (
        "patrol-report",
        &[
            "rusqlite",
            "rumqttc",
            "reqwest",
            "lettre",
            "patrol-store",
            "patrol-history",
            "patrol-notify",
            "patrol-collector",
        ],
    ),
    (
        "patrol-incident",
        &["rusqlite", "rumqttc", "reqwest", "lettre"],
    ),
    (
        "patrol-store",
        &["rumqttc", "reqwest", "lettre", "patrol-notify"],
    ),
    (
        "patrol-history",
        &[
            "patrol-store",
            "patrol-site",
            "patrol-notify",
            "rumqttc",
            "lettre",
        ],
    ),
];

struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Package id → ids of its normal (non-dev, non-build) dependencies.
    normal: BTreeMap<String, Vec<String>>,
}

fn graph() -> Graph {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let names = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_owned(),
                p["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let normal = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()))
                })
                .map(|d| d["pkg"].as_str().expect("pkg").to_owned())
                .collect();
            (n["id"].as_str().expect("id").to_owned(), deps)
        })
        .collect();
    Graph { names, normal }
}

impl Graph {
    fn id(&self, name: &str) -> String {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no package {name}"))
    }

    fn direct(&self, name: &str) -> BTreeSet<String> {
        self.normal[&self.id(name)]
            .iter()
            .map(|id| self.names[id].clone())
            .collect()
    }

    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![self.id(name)];
        while let Some(id) = todo.pop() {
            for dep in &self.normal[&id] {
                if seen.insert(self.names[dep].clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn workspace_crates_depend_only_on_the_crates_below_them() {
    let g = graph();
    for (name, allowed) in ALLOWED {
        let internal: BTreeSet<String> = g
            .direct(name)
            .into_iter()
            .filter(|d| d.starts_with("patrol"))
            .collect();
        let extra: Vec<&String> = internal
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, which it must not"
        );
    }
}

#[test]
fn the_client_and_the_site_model_link_no_server_code() {
    let g = graph();
    for (name, never) in NEVER {
        let linked = g.closure(name);
        let found: Vec<&&str> = never.iter().filter(|n| linked.contains(**n)).collect();
        assert!(found.is_empty(), "{name} links {found:?}");
    }
}
