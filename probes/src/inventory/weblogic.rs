//! WebLogic versions. Fusion Middleware 12c and later record what a home holds in
//! `<ORACLE_HOME>/inventory/registry.xml` (`<registry xmlns="http://xmlns.oracle.com/cie/gdr/rgy">
//! <distributions><distribution status="installed" name="WebLogic Server"
//! version="12.2.1.4.0">`); WebLogic 10.3 and 12.1.1 keep `WLS_PRODUCT_VERSION=10.3.6.0` in
//! `$WL_HOME/.product.properties`.

use std::path::Path;

use patrol_proto::facts::clean_value;

use super::{read_small, xml};

/// The installed distributions of a registry.xml, `(name, version)`, in file order.
pub fn parse_registry(text: &str) -> Result<Vec<(String, String)>, String> {
    let doc = xml::parse(text)?;
    Ok(doc
        .descendants()
        .filter(|n| xml::is(n, "distribution"))
        .filter(|n| n.attribute("status").is_none_or(|s| s == "installed"))
        .filter_map(|n| Some((n.attribute("name")?, n.attribute("version")?)))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}

/// `WLS_PRODUCT_VERSION` of a `.product.properties` file (Java properties: `key=value` or
/// `key: value`, `#` and `!` comments).
pub fn parse_product_properties(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .find(|(k, _)| k.trim() == "WLS_PRODUCT_VERSION")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// What a middleware home holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// `WebLogic Server 12.2.1.4.0`, other distributions after it.
    pub text: String,
    /// Whether WebLogic Server is among them.
    pub weblogic: bool,
}

/// Where a 10.3 / 12.1.1 home keeps `.product.properties`, from the home itself or the
/// middleware home above it.
const PRODUCT_PROPERTIES: &[&str] = &[
    ".product.properties",
    "wlserver/.product.properties",
    "wlserver_10.3/.product.properties",
    "wlserver_12.1/.product.properties",
];

/// What `home` holds by registry.xml, else by `.product.properties`; `None` when it is no
/// middleware home.
pub fn installed(home: &Path) -> Option<Installed> {
    let registry = home.join("inventory/registry.xml");
    if let Some(text) = read_small(&registry, xml::MAX_FILE_BYTES) {
        match parse_registry(&text) {
            Ok(mut list) if !list.is_empty() => {
                // WebLogic first: it is what the fact is about.
                list.sort_by_key(|(name, _)| !name.contains("WebLogic"));
                let weblogic = list[0].0.contains("WebLogic");
                let text: Vec<String> = list.iter().map(|(n, v)| format!("{n} {v}")).collect();
                return Some(Installed {
                    text: clean_value(&text.join(", ")),
                    weblogic,
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(file = %registry.display(), error = %e,
                "inventory: registry.xml unreadable; the home's version is not reported"),
        }
    }
    PRODUCT_PROPERTIES
        .iter()
        .filter_map(|p| read_small(&home.join(p), 64 * 1024))
        .find_map(|t| parse_product_properties(&t))
        .map(|v| Installed {
            text: clean_value(&format!("WebLogic Server {v}")),
            weblogic: true,
        })
}
