//! Progress on stderr for the commands that move or hash many bytes (push, pull, sign, verify).
//!
//! - stderr a terminal: a bar (bytes, files, rate, ETA), its message naming the phase.
//! - stderr not a terminal (CI logs, `kubectl logs`): once a command has run for one interval
//!   (10 s, `MODELSEAL_PROGRESS_SECONDS`), one line per interval and one per phase change after
//!   that; a command done sooner prints none, so short runs keep their logs as they were.
//! - `--quiet`: nothing.
//!
//! It polls a byte counter (the engine's, or the hashers'); it never touches the data path.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use modelseal_fetch::progress::{self as lines, Ticker};

static QUIET: AtomicBool = AtomicBool::new(false);
static EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Set once before a command runs: `--quiet` (no bar, no progress lines) and the interval of
/// progress lines from `MODELSEAL_PROGRESS_SECONDS`, refused when it is not a number of seconds.
pub fn configure(quiet: bool) -> crate::failure::Result<()> {
    QUIET.store(quiet, Ordering::Relaxed);
    let every = lines::interval(std::env::var("MODELSEAL_PROGRESS_SECONDS").ok().as_deref())
        .map_err(|e| {
            crate::failure::Failure::cannot_check(
                format!("MODELSEAL_PROGRESS_SECONDS {e}"),
                "unset it, or give seconds, e.g. MODELSEAL_PROGRESS_SECONDS=10",
            )
        })?;
    let _ = EVERY.set(every);
    Ok(())
}

pub struct Progress {
    out: Out,
}

enum Out {
    Off,
    Bar {
        bar: indicatif::ProgressBar,
        label: String,
        done: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
    Lines {
        label: String,
        /// Set by the first periodic line; phase lines wait for it.
        spoke: Arc<AtomicBool>,
        _ticker: Ticker,
    },
}

impl Progress {
    /// Starts progress for `label` ("pull s3://models/llm") over `total` bytes in `files`
    /// files, fed by `moved`.
    pub fn start(
        label: &str,
        total: u64,
        files: usize,
        moved: impl Fn() -> u64 + Send + 'static,
    ) -> Progress {
        let label = format!(
            "{label} ({files} {})",
            if files == 1 { "file" } else { "files" }
        );
        let out = if QUIET.load(Ordering::Relaxed) {
            Out::Off
        } else if std::io::stderr().is_terminal() {
            bar(label, total, moved)
        } else {
            let every = EVERY.get().copied().unwrap_or(Duration::from_secs(10));
            let spoke = Arc::new(AtomicBool::new(false));
            let (said, prefix) = (spoke.clone(), label.clone());
            let ticker = Ticker::start(every, Some(total), moved, move |line| {
                said.store(true, Ordering::Relaxed);
                eprintln!("modelseal: {prefix}: {line}");
            });
            Out::Lines {
                label,
                spoke,
                _ticker: ticker,
            }
        };
        Progress { out }
    }

    /// A new phase ("checking encryption", "uploading the signature").
    pub fn phase(&self, what: &str) {
        match &self.out {
            Out::Off => {}
            Out::Bar { bar, label, .. } => bar.set_message(format!("{label}: {what}")),
            Out::Lines { label, spoke, .. } => {
                if spoke.load(Ordering::Relaxed) {
                    eprintln!("modelseal: {label}: {what}");
                }
            }
        }
    }
}

fn bar(label: String, total: u64, moved: impl Fn() -> u64 + Send + 'static) -> Out {
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(label.clone());
    let done = Arc::new(AtomicBool::new(false));
    let (stop, drawn) = (done.clone(), bar.clone());
    let thread = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            drawn.set_position(moved());
            drawn.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
        drawn.set_position(moved());
        drawn.finish_and_clear();
    });
    Out::Bar {
        bar,
        label,
        done,
        thread: Some(thread),
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Out::Bar { done, thread, .. } = &mut self.out {
            done.store(true, Ordering::Relaxed);
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}
