//! Progress for logs: a thread that, every `every`, hands a shell one line saying how far a
//! transfer is ("1.2 GiB of 4.0 GiB (30%), 150 MiB/s, about 19 s left"). The shells decide
//! where the line goes (stderr, with their own prefix); this module only counts and formats.
//! It reads a byte counter the engine or the hashers keep; it never touches the data path.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The interval for non-terminal progress lines: `MODELSEAL_PROGRESS_SECONDS` (the value given
/// here) when set, a positive number of seconds up to a day (fractions allowed); unset or empty,
/// 10 s, as kserve#6016 asks of init containers. Anything else is refused: the error says why
/// after the variable's name, which the shell puts before it.
pub fn interval(env: Option<&str>) -> Result<Duration, String> {
    match env.map(str::trim) {
        None | Some("") => Ok(Duration::from_secs(10)),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("'{v}' is not a number of seconds above 0 and at most 86400")),
    }
}

/// Runs until dropped; dropping it wakes and joins the thread at once.
pub struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    /// Calls `line` with the state of `moved()` against `total` every `every`.
    pub fn start(
        every: Duration,
        total: Option<u64>,
        moved: impl Fn() -> u64 + Send + 'static,
        mut line: impl FnMut(String) + Send + 'static,
    ) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let (lock, wake) = &*flag;
            let Ok(mut stopped) = lock.lock() else { return };
            // The flag is checked before each wait: a drop may come before the first one.
            while !*stopped {
                let Ok((guard, timeout)) = wake.wait_timeout(stopped, every) else {
                    return;
                };
                stopped = guard;
                if timeout.timed_out() && !*stopped {
                    line(describe(moved(), total, started.elapsed()));
                }
            }
        });
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Ok(mut s) = self.stop.0.lock() {
            *s = true;
        }
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// "1.2 GiB of 4.0 GiB (30%), 150 MiB/s, about 19 s left"; without a total, the bytes and rate.
pub fn describe(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let rate_text = format!("{}/s", bytes(rate as u64));
    match total {
        Some(t) if t > 0 => {
            let done = done.min(t);
            let pct = done as f64 * 100.0 / t as f64;
            let left = if rate > 0.0 && done < t {
                format!(", about {} left", duration((t - done) as f64 / rate))
            } else {
                String::new()
            };
            format!(
                "{} of {} ({pct:.0}%), {rate_text}{left}",
                bytes(done),
                bytes(t)
            )
        }
        _ => format!("{}, {rate_text}", bytes(done)),
    }
}

/// `n` things, in the right number: "1 file", "2 files".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Binary units, one decimal above KiB: "512 B", "1.5 KiB", "3.0 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn duration(secs: f64) -> String {
    let s = secs.ceil() as u64;
    match s {
        0..=99 => format!("{s} s"),
        100..=5999 => format!("{} min", s.div_ceil(60)),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn lines_read_as_people_write_them() {
        let gib = 1u64 << 30;
        assert_eq!(
            describe(gib + gib / 5, Some(4 * gib), Duration::from_secs(8)),
            "1.2 GiB of 4.0 GiB (30%), 153.6 MiB/s, about 19 s left"
        );
        assert_eq!(
            describe(0, Some(100), Duration::ZERO),
            "0 B of 100 B (0%), 0 B/s"
        );
        assert_eq!(
            describe(3 << 20, None, Duration::from_secs(1)),
            "3.0 MiB, 3.0 MiB/s"
        );
        assert_eq!(
            describe(1 << 20, Some(gib), Duration::from_secs(1)),
            "1.0 MiB of 1.0 GiB (0%), 1.0 MiB/s, about 18 min left"
        );
        assert_eq!(
            describe(10 << 20, Some(100 * gib), Duration::from_secs(1)),
            "10.0 MiB of 100.0 GiB (0%), 10.0 MiB/s, about 2.8 h left"
        );
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }

    #[test]
    fn interval_defaults_to_ten_seconds_and_refuses_nonsense() {
        assert_eq!(interval(None), Ok(Duration::from_secs(10)));
        assert_eq!(interval(Some(" ")), Ok(Duration::from_secs(10)));
        assert_eq!(interval(Some("0.5")), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "NaN", "inf", "x", "86401"] {
            let e = interval(Some(bad)).unwrap_err();
            assert!(e.contains(bad) && e.contains("seconds above 0"), "{e}");
        }
    }

    #[test]
    fn ticks_until_dropped_and_stops_at_once() {
        let moved = Arc::new(AtomicU64::new(0));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (m, l) = (moved.clone(), lines.clone());
        let t = Ticker::start(
            Duration::from_millis(5),
            Some(100),
            move || m.load(Ordering::Relaxed),
            move |s| l.lock().unwrap().push(s),
        );
        moved.store(50, Ordering::Relaxed);
        while lines.lock().unwrap().is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(t);
        let n = lines.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(lines.lock().unwrap().len(), n, "no line after drop");
        assert!(lines.lock().unwrap().iter().any(|s| s.contains("of 100 B")));
        // An hour's ticker does not hold a finished command for its interval.
        let started = Instant::now();
        drop(Ticker::start(Duration::from_secs(3600), None, || 0, |_| {}));
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
