//! Quantiles from two scrapes of a Prometheus histogram: the bucket counts'
//! growth over the interval, and the upper bound of the bucket where the
//! quantile falls. An upper bound, not an interpolation: "p99 ≤ 0.5 ms" is
//! what the buckets can honestly say.

use super::prom::Page;

/// The `le` bound (seconds) under which fraction `q` of the observations
/// of `name` on `core` made between `before` and `after` fall; `None` when
/// there were none (or the node restarted in between). `f64::INFINITY`
/// when the quantile lies past the last finite bucket.
pub fn upper_bound(before: &Page, after: &Page, name: &str, core: &str, q: f64) -> Option<f64> {
    let bucket = format!("{name}_bucket");
    let mut deltas: Vec<(f64, f64)> = Vec::new();
    for sample in after.all(&bucket) {
        let label = |key: &str| {
            sample
                .labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if label("core") != Some(core) {
            continue;
        }
        let le_text = label("le")?;
        let le = if le_text == "+Inf" {
            f64::INFINITY
        } else {
            le_text.parse().ok()?
        };
        let then = before
            .all(&bucket)
            .find(|s| s.labels == sample.labels)
            .map_or(0.0, |s| s.value);
        deltas.push((le, sample.value - then));
    }
    deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = deltas.last()?.1;
    // A count that went down: the node restarted between the scrapes.
    if total <= 0.0 || deltas.iter().any(|(_, d)| *d < 0.0) {
        return None;
    }
    let rank = q * total;
    deltas
        .iter()
        .find(|(_, cumulative)| *cumulative >= rank)
        .map(|(le, _)| *le)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(counts: [u64; 3]) -> Page {
        Page::parse(&format!(
            "h_bucket{{core=\"0\",le=\"0.001\"}} {}\nh_bucket{{core=\"0\",le=\"0.01\"}} {}\n\
             h_bucket{{core=\"0\",le=\"+Inf\"}} {}\n",
            counts[0], counts[1], counts[2]
        ))
        .expect("page")
    }

    #[test]
    fn the_quantile_is_the_bound_of_its_bucket_over_the_interval() {
        let before = page([100, 100, 100]);
        // 90 new under 1 ms, 9 more under 10 ms, 1 beyond.
        let after = page([190, 199, 200]);
        assert_eq!(upper_bound(&before, &after, "h", "0", 0.5), Some(0.001));
        assert_eq!(upper_bound(&before, &after, "h", "0", 0.99), Some(0.01));
        assert_eq!(
            upper_bound(&before, &after, "h", "0", 1.0),
            Some(f64::INFINITY)
        );
        assert_eq!(
            upper_bound(&before, &before, "h", "0", 0.5),
            None,
            "nothing new"
        );
        assert_eq!(
            upper_bound(&after, &before, "h", "0", 0.5),
            None,
            "a restart"
        );
        assert_eq!(
            upper_bound(&before, &after, "h", "1", 0.5),
            None,
            "no such core"
        );
    }
}
