//! A small server-rendered SVG line chart: one series over a time range, downsampled to the
//! chart's pixel width with the minimum and maximum of each pixel's bucket, so a peak shorter
//! than a pixel is still drawn (an average would hide the spike the inspection is about).
//! No script, no external font: the SVG is inline in the page and prints as it shows.

use std::fmt::Write as _;

use patrol_report::markup::esc;

/// Plot area width in pixels, and so the number of buckets.
pub const WIDTH: usize = 600;
/// Plot area height in pixels.
pub const HEIGHT: usize = 120;
/// Room left of the plot for the axis labels, and under it.
const LEFT: usize = 56;
const BOTTOM: usize = 18;
const TOP: usize = 8;

/// One input point: time, and the smallest and largest value at it (equal for a raw sample;
/// a minute aggregate's min and max).
pub type Point = (i64, f64, f64);

/// The min and max of the points falling in each of `width` equal buckets of `[from, to]`;
/// `None` for a bucket with none. Points outside the range and NaN values are left out.
pub fn buckets(points: &[Point], from: i64, to: i64, width: usize) -> Vec<Option<(f64, f64)>> {
    let mut out: Vec<Option<(f64, f64)>> = vec![None; width];
    if width == 0 || to <= from {
        return out;
    }
    let span = (to - from) as f64;
    for &(t, lo, hi) in points {
        if t < from || t > to || lo.is_nan() || hi.is_nan() {
            continue;
        }
        let i = (((t - from) as f64 / span) * width as f64) as usize;
        let i = i.min(width - 1);
        out[i] = Some(match out[i] {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
    }
    out
}

/// The value range to draw: the data's, widened to 0–100 for a percentage, never empty.
fn range(b: &[Option<(f64, f64)>], percent: bool) -> (f64, f64) {
    let (mut lo, mut hi) = b
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, z)| {
            (lo.min(*a), hi.max(*z))
        });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if percent {
        lo = lo.min(0.0);
        hi = hi.max(100.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    }
}

/// The path through the buckets: per bucket a vertical stroke from its max to its min, the
/// strokes joined; an empty bucket breaks the line (no sample, no line drawn across a gap).
pub fn path(b: &[Option<(f64, f64)>], lo: f64, hi: f64) -> String {
    let y = |v: f64| TOP as f64 + (hi - v) / (hi - lo) * HEIGHT as f64;
    let mut d = String::new();
    let mut pen_down = false;
    for (i, bucket) in b.iter().enumerate() {
        let Some((min, max)) = bucket else {
            pen_down = false;
            continue;
        };
        let x = LEFT + i;
        let _ = write!(
            d,
            "{}{x},{:.1} L{x},{:.1} ",
            if pen_down { "L" } else { "M" },
            y(*max),
            y(*min)
        );
        pen_down = true;
    }
    d.trim_end().to_owned()
}

/// The chart of `points` over `[from, to]`, titled `title`; `label(ms)` writes the time axis'
/// two ends.
pub fn svg(
    title: &str,
    points: &[Point],
    from: i64,
    to: i64,
    label: impl Fn(i64) -> String,
) -> String {
    let b = buckets(points, from, to, WIDTH);
    let percent = title.contains("_percent");
    let (lo, hi) = range(&b, percent);
    let d = path(&b, lo, hi);
    let (w, h) = (LEFT + WIDTH + 4, TOP + HEIGHT + BOTTOM);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title>\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" class=\"plot\"/>\
         <text x=\"{lx}\" y=\"{ty}\" class=\"axis\" text-anchor=\"end\">{hi}</text>\
         <text x=\"{lx}\" y=\"{by}\" class=\"axis\" text-anchor=\"end\">{lo}</text>\
         <text x=\"{LEFT}\" y=\"{h2}\" class=\"axis\">{start}</text>\
         <text x=\"{right}\" y=\"{h2}\" class=\"axis\" text-anchor=\"end\">{end}</text>",
        t = esc(title),
        lx = LEFT - 4,
        ty = TOP + 10,
        by = TOP + HEIGHT,
        hi = esc(&super::value(hi)),
        lo = esc(&super::value(lo)),
        h2 = h - 4,
        start = esc(&label(from)),
        right = LEFT + WIDTH,
        end = esc(&label(to)),
    );
    if d.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"middle\">no samples in this period</text>",
            LEFT + WIDTH / 2,
            TOP + HEIGHT / 2
        );
    } else {
        let _ = write!(out, "<path class=\"line\" d=\"{d}\"/>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_sample_peak_survives_downsampling() {
        // A day of 1 s samples at 40, one of them 97: 86,400 points into 600 pixels.
        let day = 86_400_000;
        let mut points: Vec<Point> = (0..86_400).map(|s| (s * 1000, 40.0, 40.0)).collect();
        points[51_234] = (51_234_000, 97.0, 97.0);
        let b = buckets(&points, 0, day, WIDTH);
        assert_eq!(b.len(), WIDTH);
        let peak = b
            .iter()
            .flatten()
            .map(|(_, hi)| *hi)
            .fold(f64::MIN, f64::max);
        assert_eq!(peak, 97.0);
        // The bucket holding the peak is the one its time falls in.
        let i = (51_234_000f64 / day as f64 * WIDTH as f64) as usize;
        assert_eq!(b[i], Some((40.0, 97.0)));
        assert!(b.iter().all(Option::is_some));
        // Drawn: the peak is at the top of the plot (0–100 scale: y = TOP + 3% of HEIGHT).
        let svg = svg("disk_used_percent", &points, 0, day, |ms| ms.to_string());
        let y97 = TOP as f64 + 3.0 / 100.0 * HEIGHT as f64;
        assert!(svg.contains(&format!("{},{y97:.1}", LEFT + i)), "{svg}");
        // One stroke per pixel at most: the page stays small whatever the sample rate.
        assert_eq!(
            svg.matches(" L").count() + svg.matches('M').count(),
            2 * WIDTH
        );
    }

    #[test]
    fn a_gap_breaks_the_line_and_nothing_is_drawn_without_samples() {
        let points = vec![
            (0, 1.0, 1.0),
            (5, 2.0, 2.0),
            (90, 3.0, 3.0),
            (100, 4.0, 4.0),
        ];
        let b = buckets(&points, 0, 100, 10);
        assert_eq!(b[0], Some((1.0, 2.0)));
        assert_eq!(b[9], Some((3.0, 4.0)));
        assert!(b[1..9].iter().all(Option::is_none));
        let d = path(&b, 0.0, 5.0);
        assert_eq!(d.matches('M').count(), 2, "{d}");
        let empty = svg("x", &[], 0, 100, |ms| ms.to_string());
        assert!(empty.contains("no samples in this period"));
        assert!(!empty.contains("<path"));
    }

    #[test]
    fn the_title_is_escaped() {
        let s = svg("<script>", &[], 0, 1, |_| "t".to_owned());
        assert!(s.contains("<title>&lt;script&gt;</title>"));
        assert!(!s.contains("<script>"));
    }
}
