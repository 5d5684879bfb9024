//! A progress indicator on stderr: only when stderr is a terminal and not `--quiet`, and
//! only once the work has taken about a second (never in pipes or cron logs).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shown after this long.
const DELAY: Duration = Duration::from_millis(1000);

/// The spinner on screen, if any, so that output can clear it first ([`clear`]).
static ACTIVE: Mutex<Option<(ProgressBar, Arc<AtomicBool>)>> = Mutex::new(None);

/// Remove the spinner for good (before the result is printed on a terminal).
pub fn clear() {
    let active = ACTIVE.lock().ok().and_then(|mut a| a.take());
    if let Some((bar, done)) = active {
        done.store(true, Ordering::SeqCst);
        bar.finish_and_clear();
    }
}

/// While alive, the indicator (if any) is a bar of `total` bytes read, with the
/// percentage, the rate and the time left; then it is a spinner again.
pub struct Reading {
    /// The step shown before reading started (None: no indicator).
    before: Option<String>,
}

/// Reading of `label` (`total` bytes) starts: see [`Reading`] and [`advance`].
pub fn reading(label: &str, total: u64) -> Reading {
    let Some(bar) = active_bar() else {
        return Reading { before: None };
    };
    let style = ProgressStyle::with_template(
        "{prefix}: {wide_msg} {bar:12} {percent:>3}% {bytes}/{total_bytes} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let before = bar.message();
    bar.set_style(style);
    bar.set_length(total.max(1));
    bar.set_position(0);
    bar.reset_eta();
    bar.set_message(format!("reading {label}"));
    Reading {
        before: Some(before),
    }
}

/// Print a line on stderr without tearing the indicator (it is redrawn below).
pub fn eprintln(line: &str) {
    match active_bar() {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// What the command does now (the indicator's message, if any).
pub fn step(msg: &str) {
    if let Some(bar) = active_bar() {
        bar.set_message(msg.to_string());
    }
}

/// `n` more bytes of the current input were read.
pub fn advance(n: u64) {
    if let Some(bar) = active_bar() {
        bar.inc(n);
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let (Some(before), Some(bar)) = (self.before.take(), active_bar()) else {
            return;
        };
        bar.set_style(spinner_style());
        bar.set_message(before);
    }
}

fn active_bar() -> Option<ProgressBar> {
    ACTIVE
        .lock()
        .ok()
        .and_then(|a| a.as_ref().map(|(b, _)| b.clone()))
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} retention {prefix}: {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A spinner with a message; cleared when dropped.
pub struct Progress {
    bar: Option<ProgressBar>,
    done: Arc<AtomicBool>,
}

impl Progress {
    /// A spinner for `name` when stderr is a terminal and `quiet` is off; else nothing.
    pub fn start(name: &str, quiet: bool) -> Progress {
        Progress::start_on(name, !quiet && std::io::stderr().is_terminal())
    }

    fn start_on(name: &str, enabled: bool) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        if !enabled {
            return Progress { bar: None, done };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(spinner_style());
        bar.set_prefix(name.to_string());
        bar.set_message("working");
        let (b, d) = (bar.clone(), done.clone());
        // Appear only for work longer than DELAY.
        std::thread::spawn(move || {
            std::thread::sleep(DELAY);
            if !d.load(Ordering::SeqCst) {
                b.set_draw_target(ProgressDrawTarget::stderr());
                b.enable_steady_tick(Duration::from_millis(120));
            }
        });
        if let Ok(mut a) = ACTIVE.lock() {
            *a = Some((bar.clone(), done.clone()));
        }
        Progress {
            bar: Some(bar),
            done,
        }
    }

    /// What is being done now.
    pub fn set(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        clear();
        self.done.store(true, Ordering::SeqCst);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The process's peak resident memory so far in MiB (`VmHWM`; Linux only, else None):
/// `report --verbose` prints it after each step, to show which one raised it.
pub fn peak_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
