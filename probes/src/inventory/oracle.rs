//! Oracle homes and what is installed in them. Homes are found where Oracle's own tools look:
//! the central inventory named by `/etc/oraInst.loc` (`inventory_loc=`), whose
//! `ContentsXML/inventory.xml` lists every home the installer made (`<HOME LOC=...>`, a
//! removed one marked `REMOVED="T"`), and `/etc/oratab` (`SID:ORACLE_HOME:Y|N`); plus the
//! homes configured in `[inventory]`. A database or grid home describes itself in
//! `inventory/ContentsXML/comps.xml`: the top-level component (`PRD_LIST/TL_LIST/COMP`, e.g.
//! `oracle.server` 19.0.0.0.0 "Oracle Database 19c") and the one-off patches applied
//! (`ONEOFF_LIST/ONEOFF/DESC`, e.g. "Database Release Update : 19.21.0.0.231017 (35643107)").

use std::path::{Path, PathBuf};

use patrol_proto::facts::{FactMap, clean_value, indexed, key};

use super::{Roots, read_small, weblogic, xml};

/// `inventory_loc` of an `oraInst.loc` file.
pub fn parse_ora_inst_loc(text: &str) -> Option<PathBuf> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("inventory_loc="))
        .map(str::trim)
        .find(|p| p.starts_with('/'))
        .map(PathBuf::from)
}

/// The homes of an oratab file (`SID:ORACLE_HOME:Y|N`, `#` comments).
pub fn parse_oratab(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split(':').nth(1))
        .map(str::trim)
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// The homes the central inventory lists, removed ones left out.
pub fn parse_central_inventory(text: &str) -> Result<Vec<PathBuf>, String> {
    let doc = xml::parse(text)?;
    Ok(doc
        .descendants()
        .filter(|n| xml::is(n, "HOME"))
        .filter(|n| n.attribute("REMOVED") != Some("T"))
        .filter_map(|n| n.attribute("LOC"))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

/// What comps.xml says is installed in a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// The top-level component (`oracle.server`, `oracle.crs`, `oracle.client`...).
    pub component: String,
    /// Its version, e.g. `19.0.0.0.0` (the base release: release updates do not change it).
    pub version: String,
    /// Its display name, e.g. `Oracle Database 19c`.
    pub display: Option<String>,
    /// The newest release or patch set update applied, as its description says.
    pub update: Option<String>,
}

impl Product {
    /// The fact's value: `Oracle Database 19c 19.0.0.0.0, Database Release Update : ...`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} {}",
            self.display.as_deref().unwrap_or(&self.component),
            self.version
        );
        if let Some(u) = &self.update {
            text.push_str(", ");
            text.push_str(u);
        }
        clean_value(&text)
    }
}

/// The top-level product of a comps.xml and its newest update; `None` when the file lists
/// no top-level component.
pub fn parse_comps(text: &str) -> Result<Option<Product>, String> {
    let doc = xml::parse(text)?;
    let Some(top) = doc
        .descendants()
        .find(|n| xml::is(n, "TL_LIST"))
        .and_then(|tl| tl.children().find(|c| xml::is(c, "COMP")))
    else {
        return Ok(None);
    };
    let (Some(component), Some(version)) = (top.attribute("NAME"), top.attribute("VER")) else {
        return Ok(None);
    };
    let update = doc
        .descendants()
        .filter(|n| xml::is(n, "ONEOFF"))
        .filter_map(|n| xml::child_text(&n, "DESC"))
        .filter(|d| {
            let d = d.to_ascii_lowercase();
            d.contains("release update") || d.contains("patch set update")
        })
        // The newest: the highest version number in the description (a home keeps only its
        // current RU, but also carries e.g. the OCW or OJVM update of the same quarter); of
        // equal ones the database's own.
        .max_by_key(|d| {
            (
                version_in(d),
                d.to_ascii_lowercase().starts_with("database"),
            )
        })
        .map(str::to_owned);
    Ok(Some(Product {
        component: component.to_owned(),
        version: version.to_owned(),
        display: xml::child_text(&top, "EXT_NAME").map(str::to_owned),
        update,
    }))
}

/// The first dotted number in `text` (`19.21.0.0.231017`), as numbers for comparing.
fn version_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|t| t.contains('.') && t.split('.').all(|p| !p.is_empty()))
        .map(|t| t.split('.').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// Every home to look at: configured ones first, then the central inventory's and oratab's,
/// each once.
pub fn homes(roots: &Roots, oracle: &[PathBuf], weblogic: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = oracle.iter().chain(weblogic).cloned().collect();
    if let Some(inventory) =
        read_small(&roots.ora_inst_loc, 64 * 1024).and_then(|t| parse_ora_inst_loc(&t))
    {
        let file = inventory.join("ContentsXML/inventory.xml");
        match read_small(&file, xml::MAX_FILE_BYTES).map(|t| parse_central_inventory(&t)) {
            Some(Ok(listed)) => found.extend(listed),
            Some(Err(e)) => tracing::warn!(file = %file.display(), error = %e,
                "inventory: Oracle central inventory unreadable; its homes are not reported"),
            None => {}
        }
    }
    if let Some(text) = read_small(&roots.oratab, 1024 * 1024) {
        found.extend(parse_oratab(&text));
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|h| seen.insert(h.clone()));
    found
}

/// What a database or grid home has installed, from its comps.xml.
pub fn product(home: &Path) -> Option<Product> {
    let file = home.join("inventory/ContentsXML/comps.xml");
    let text = read_small(&file, xml::MAX_FILE_BYTES)?;
    match parse_comps(&text) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e,
                "inventory: comps.xml unreadable; the home's version is not reported");
            None
        }
    }
}

/// `weblogic[<home>]` for a middleware home, else `oracle[<home>]` for a database, grid or
/// client home; a home that says neither gives no fact.
pub fn home_facts(homes: &[PathBuf]) -> FactMap {
    let mut facts = FactMap::new();
    for home in homes {
        let name = home.display().to_string();
        if let Some(installed) = weblogic::installed(home) {
            let fact = if installed.weblogic {
                key::WEBLOGIC
            } else {
                key::ORACLE
            };
            facts.insert(indexed(fact, &name), installed.text);
        } else if let Some(p) = product(home) {
            facts.insert(indexed(key::ORACLE, &name), p.describe());
        }
    }
    facts
}
