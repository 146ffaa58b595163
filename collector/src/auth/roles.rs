//! What each gRPC method (and each console write on the HTTP port) needs, in one table: the
//! agent stream needs an agent credential (checked on its hello, which names the agent),
//! every other method a role.
//! A path the table does not know is refused to everyone, admins included, so a method added to
//! the proto without a line here is closed rather than open (and the test below fails until it
//! has one).

use serde::Deserialize;

/// An operator's role; each includes what the roles before it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads: incidents, their journal, the live stream, agents, rules, channels.
    Viewer,
    /// Handles incidents: create, ack, assign, wait, comment, plan, resolve, close.
    Operator,
    /// Changes the collector: reloads rules (and, with the console, site changes).
    Admin,
}

impl Role {
    /// The name used in config files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// What a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The agent stream: an agent credential, checked against the id its hello names.
    Agent,
    /// An operator identity with at least this role.
    Role(Role),
    /// A path the table does not list: refused whoever calls.
    Unlisted,
}

/// Every method of `patrol.v1` with what it needs and how it is named in messages.
pub const METHODS: &[(&str, Need, &str)] = &[
    ("/patrol.v1.Ingest/Stream", Need::Agent, "the agent stream"),
    (
        "/patrol.v1.Incidents/Watch",
        Need::Role(Role::Viewer),
        "tail",
    ),
    (
        "/patrol.v1.Incidents/List",
        Need::Role(Role::Viewer),
        "incidents list",
    ),
    (
        "/patrol.v1.Incidents/Get",
        Need::Role(Role::Viewer),
        "incidents show",
    ),
    (
        "/patrol.v1.Incidents/Journal",
        Need::Role(Role::Viewer),
        "incidents show",
    ),
    (
        "/patrol.v1.Incidents/Create",
        Need::Role(Role::Operator),
        "incidents create",
    ),
    (
        "/patrol.v1.Incidents/Ack",
        Need::Role(Role::Operator),
        "incidents ack",
    ),
    (
        "/patrol.v1.Incidents/Assign",
        Need::Role(Role::Operator),
        "incidents assign",
    ),
    (
        "/patrol.v1.Incidents/Wait",
        Need::Role(Role::Operator),
        "incidents wait",
    ),
    (
        "/patrol.v1.Incidents/Comment",
        Need::Role(Role::Operator),
        "incidents comment",
    ),
    (
        "/patrol.v1.Incidents/Plan",
        Need::Role(Role::Operator),
        "incidents plan",
    ),
    (
        "/patrol.v1.Incidents/Resolve",
        Need::Role(Role::Operator),
        "incidents resolve",
    ),
    (
        "/patrol.v1.Incidents/Close",
        Need::Role(Role::Operator),
        "incidents close",
    ),
    (
        "/patrol.v1.Agents/List",
        Need::Role(Role::Viewer),
        "agents list",
    ),
    (
        "/patrol.v1.Agents/Get",
        Need::Role(Role::Viewer),
        "agents show",
    ),
    (
        "/patrol.v1.Rules/List",
        Need::Role(Role::Viewer),
        "rules list",
    ),
    (
        "/patrol.v1.Rules/Reload",
        Need::Role(Role::Admin),
        "rules reload",
    ),
    (
        "/patrol.v1.Channels/Status",
        Need::Role(Role::Viewer),
        "channels status",
    ),
    // The history is read-only: queries, series and its status are what a viewer sees.
    (
        "/patrol.v1.History/Query",
        Need::Role(Role::Viewer),
        "query",
    ),
    (
        "/patrol.v1.History/Series",
        Need::Role(Role::Viewer),
        "series",
    ),
    (
        "/patrol.v1.History/Status",
        Need::Role(Role::Viewer),
        "history status",
    ),
    // The inspection round's records: reading them is a viewer's; a sign-off is an operator's
    // (journaled under the authenticated name).
    (
        "/patrol.v1.Reports/ListSheets",
        Need::Role(Role::Viewer),
        "report list",
    ),
    (
        "/patrol.v1.Reports/GetSheet",
        Need::Role(Role::Viewer),
        "report inspection",
    ),
    (
        "/patrol.v1.Reports/Sign",
        Need::Role(Role::Operator),
        "report sign",
    ),
    (
        "/patrol.v1.Reports/SlaReport",
        Need::Role(Role::Viewer),
        "report sla",
    ),
    (
        "/patrol.v1.Reports/MonthlySummary",
        Need::Role(Role::Viewer),
        "report monthly",
    ),
    (
        "/patrol.v1.Reports/FaultReport",
        Need::Role(Role::Viewer),
        "report fault",
    ),
    // The web console's writes on the HTTP port (collector/src/console/write.rs), by route.
    (
        "POST /console/api/incidents/{id}/ack",
        Need::Role(Role::Operator),
        "console acknowledge",
    ),
    (
        "POST /console/api/incidents/{id}/assign",
        Need::Role(Role::Operator),
        "console assign",
    ),
    (
        "POST /console/api/incidents/{id}/comment",
        Need::Role(Role::Operator),
        "console comment",
    ),
    (
        "POST /console/api/incidents/{id}/resolve",
        Need::Role(Role::Operator),
        "console resolve",
    ),
];

/// What the method at `path` needs and its name for messages; unknown paths are
/// [`Need::Unlisted`].
pub fn need(path: &str) -> (Need, &str) {
    METHODS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map_or((Need::Unlisted, path), |(_, need, what)| (*need, *what))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every `rpc` of every `service` in the proto file has its line in [`METHODS`].
    #[test]
    fn every_method_of_the_wire_contract_is_in_the_table() {
        let proto = concat!(
            include_str!("../../../proto/proto/patrol/v1/patrol.proto"),
            include_str!("../../../proto/proto/patrol/v1/reports.proto"),
        );
        let mut service = "";
        let mut seen = Vec::new();
        for line in proto.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("service ") {
                service = rest.trim_end_matches('{').trim();
            } else if let Some(rest) = line.strip_prefix("rpc ") {
                let method = rest.split('(').next().unwrap().trim();
                seen.push(format!("/patrol.v1.{service}/{method}"));
            }
        }
        assert!(seen.len() >= 20, "{seen:?}");
        for path in &seen {
            assert!(
                METHODS.iter().any(|(p, _, _)| p == path),
                "{path} has no line in auth::roles::METHODS"
            );
        }
        assert_eq!(
            seen.len(),
            METHODS
                .iter()
                .filter(|(p, _, _)| p.starts_with("/patrol.v1."))
                .count(),
            "a line for a method the proto lacks"
        );
    }

    #[test]
    fn reads_writes_and_reloads_need_rising_roles() {
        assert_eq!(
            need("/patrol.v1.Incidents/List").0,
            Need::Role(Role::Viewer)
        );
        assert_eq!(
            need("/patrol.v1.Incidents/Ack"),
            (Need::Role(Role::Operator), "incidents ack")
        );
        assert_eq!(need("/patrol.v1.Rules/Reload").0, Need::Role(Role::Admin));
        assert_eq!(need("/patrol.v1.Ingest/Stream").0, Need::Agent);
        for read in [
            "/patrol.v1.History/Query",
            "/patrol.v1.History/Series",
            "/patrol.v1.History/Status",
        ] {
            assert_eq!(need(read).0, Need::Role(Role::Viewer), "{read}");
        }
        assert_eq!(need("/grpc.reflection.v1.X/Y").0, Need::Unlisted);
        assert_eq!(need("/patrol.v1.History/Delete").0, Need::Unlisted);
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }
}
