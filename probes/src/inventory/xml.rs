//! The inventory's XML files (Oracle's `inventory.xml` and `comps.xml`, WebLogic's
//! `registry.xml`) parsed with roxmltree: read-only, no DTD, bounded in nodes, so a damaged or
//! hostile file costs a bounded parse and gives no fact.

/// Largest inventory file read. A 19c database home's comps.xml is a few megabytes.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Most nodes parsed from one file.
const MAX_NODES: u32 = 2_000_000;

/// Parses `text`; the error is roxmltree's sentence with its line and column.
pub fn parse(text: &str) -> Result<roxmltree::Document<'_>, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| e.to_string())
}

/// The element's name without its namespace (registry.xml declares a default namespace).
pub fn is(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name
}

/// The text of the first child element named `name`, trimmed.
pub fn child_text<'a>(node: &roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| is(c, name))
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}
