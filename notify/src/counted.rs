//! Delivery through a channel with the outcome counted (the collector exports
//! `patrol_notify_sent_total` and `patrol_notify_failed_total`, by channel) and failures
//! logged: the one call the dispatcher makes per try.

use crate::channel::{Channel, DeliveryError, Message};
use crate::dispatch::Counters;

/// Delivers `msg` through `channel`, counting and logging the outcome.
pub async fn deliver(
    channel: &dyn Channel,
    msg: &Message,
    counters: &dyn Counters,
) -> Result<(), DeliveryError> {
    let result = channel.deliver(msg).await;
    match &result {
        Ok(()) => counters.sent(channel.name()),
        Err(e) => {
            counters.failed(channel.name());
            tracing::warn!(
                channel = channel.name(),
                event_id = msg.event_id,
                incident_id = msg.incident_id,
                "notification not delivered: {e}"
            );
        }
    }
    result
}
