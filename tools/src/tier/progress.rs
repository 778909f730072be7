//! Progress bars for long work (scrub, repair), on stderr. indicatif draws
//! nothing when stderr is not a terminal, so pipes and tests see no bars.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` stripes (or shards), labelled `what`.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:40}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
    )
    .map(|s| s.progress_chars("=> "));
    // A bad template is a bug here, not a reason to fail the command.
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}
