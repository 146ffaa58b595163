//! `patrolctl tail`: follows `Incidents.Watch` and prints one line per event until Ctrl-C or
//! until the collector ends the stream.

use crate::cli::TailArgs;
use crate::failure::Failure;
use crate::format::Human;
use crate::{connect, json, output};
use patrol_proto::v1::{self, incidents_client::IncidentsClient};

/// Watches incidents and prints them; filtering is left to the collector, which knows the
/// site's severity levels.
pub async fn run(url: &str, args: TailArgs, human: &Human) -> Result<(), Failure> {
    let mut client = IncidentsClient::new(connect::channel(url).await?);
    let request = watch_request(args.severity, args.host, args.rule);
    let mut stream = client.watch(request).await?.into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = tokio::select! {
            next = stream.message() => next,
            // Ctrl-C is how a NOC operator stops watching: a normal end, not an error.
            _ = &mut ctrl_c => return Ok(()),
        };
        match next {
            Ok(Some(event)) => output::line(&render(&event, args.json, human))?,
            Ok(None) => {
                // Exit non-zero so a script or supervisor notices the watch is over.
                eprintln!("patrolctl: the collector ended the incident stream");
                return Err(Failure::Reported(1));
            }
            Err(status) => {
                return Err(Failure::Other(anyhow::anyhow!(
                    "the incident stream broke: {}",
                    status.message()
                )));
            }
        }
    }
}

/// The server-side filter; an unset option is the empty string, which the wire reads as "all".
pub fn watch_request(
    severity: Option<String>,
    host: Option<String>,
    rule: Option<String>,
) -> v1::WatchRequest {
    v1::WatchRequest {
        min_severity: severity.unwrap_or_default(),
        host: host.unwrap_or_default(),
        rule: rule.unwrap_or_default(),
    }
}

/// One output line for an event.
pub fn render(event: &v1::IncidentEvent, as_json: bool, human: &Human) -> String {
    if as_json {
        json::event_line(event)
    } else {
        human.event_line(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_filters_are_empty_strings() {
        assert_eq!(
            watch_request(Some("P2".to_owned()), None, Some("disk_full".to_owned())),
            v1::WatchRequest {
                min_severity: "P2".to_owned(),
                host: String::new(),
                rule: "disk_full".to_owned(),
            }
        );
    }
}
