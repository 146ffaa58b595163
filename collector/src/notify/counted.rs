//! Delivery through a channel with the outcome counted in the collector's telemetry
//! (`patrol_notify_sent_total`, `patrol_notify_failed_total`, by channel) and failures logged:
//! the one call the dispatcher makes per try.

use super::channel::{Channel, DeliveryError, Message};
use crate::telemetry::Telemetry;

/// Delivers `msg` through `channel`, counting and logging the outcome.
pub async fn deliver(
    channel: &dyn Channel,
    msg: &Message,
    telemetry: &Telemetry,
) -> Result<(), DeliveryError> {
    let result = channel.deliver(msg).await;
    match &result {
        Ok(()) => telemetry.notify_sent.inc_by(channel.name(), 1),
        Err(e) => {
            telemetry.notify_failed.inc_by(channel.name(), 1);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::notify::Payload;

    /// A channel that fails `fail` times, then succeeds: counting is what is tested here, the
    /// real channels are tested against real peers in collector/tests/notify_*.rs.
    struct Flaky {
        fail: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl Channel for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn probe(&self) -> Result<(), DeliveryError> {
            Ok(())
        }
        async fn deliver(&self, _: &Message) -> Result<(), DeliveryError> {
            let left = self.fail.load(std::sync::atomic::Ordering::SeqCst);
            if left > 0 {
                self.fail
                    .store(left - 1, std::sync::atomic::Ordering::SeqCst);
                Err(DeliveryError::Transient("down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn outcomes_are_counted_by_channel() {
        let t = Telemetry::default();
        let ch = Flaky { fail: 2.into() };
        let msg = Message::new(Payload::sample("hq"));
        for _ in 0..3 {
            let _ = deliver(&ch, &msg, &t).await;
        }
        assert_eq!(t.notify_failed.get("flaky"), 2);
        assert_eq!(t.notify_sent.get("flaky"), 1);
        let mut out = String::new();
        t.encode(&mut out).unwrap();
        assert!(
            out.contains("patrol_notify_sent_total{channel=\"flaky\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("patrol_notify_failed_total{channel=\"flaky\"} 2\n"),
            "{out}"
        );
    }
}
