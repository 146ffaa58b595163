//! Loss, round-trip and jitter figures of one round of echo requests to one target. Pure.

/// The figures of one round.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub loss_percent: f64,
    /// `(min, avg, max)` in ms; `None` when no reply came back.
    pub rtt_ms: Option<(f64, f64, f64)>,
    /// Mean absolute difference between consecutive round-trip times (ms), as RFC 3550's
    /// jitter without its smoothing; `None` with fewer than two replies.
    pub jitter_ms: Option<f64>,
}

/// `rtts_ms` holds the round-trip time of each answered request, in sending order.
pub(crate) fn summarize(sent: usize, rtts_ms: &[f64]) -> Summary {
    let received = rtts_ms.len().min(sent);
    let loss_percent = if sent == 0 {
        100.0
    } else {
        (sent - received) as f64 * 100.0 / sent as f64
    };
    let rtt_ms = (!rtts_ms.is_empty()).then(|| {
        let min = rtts_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rtts_ms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let avg = rtts_ms.iter().sum::<f64>() / rtts_ms.len() as f64;
        (min, avg, max)
    });
    let jitter_ms = (rtts_ms.len() >= 2).then(|| {
        let total: f64 = rtts_ms.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        total / (rtts_ms.len() - 1) as f64
    });
    Summary {
        loss_percent,
        rtt_ms,
        jitter_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_answered_gives_no_loss_and_exact_figures() {
        let s = summarize(4, &[1.0, 3.0, 2.0, 6.0]);
        assert_eq!(s.loss_percent, 0.0);
        assert_eq!(s.rtt_ms, Some((1.0, 3.0, 6.0)));
        // |3-1| + |2-3| + |6-2| = 7 over 3 differences
        assert_eq!(s.jitter_ms, Some(7.0 / 3.0));
    }

    #[test]
    fn partial_loss_is_a_percentage_of_sent() {
        let s = summarize(5, &[2.0, 2.0]);
        assert_eq!(s.loss_percent, 60.0);
        assert_eq!(s.jitter_ms, Some(0.0));
    }

    #[test]
    fn no_reply_means_total_loss_and_no_rtt() {
        let s = summarize(3, &[]);
        assert_eq!(s.loss_percent, 100.0);
        assert_eq!(s.rtt_ms, None);
        assert_eq!(s.jitter_ms, None);
        assert_eq!(summarize(1, &[0.5]).jitter_ms, None);
    }
}
