//! Progress of long work: a bar on a terminal, a log line every few seconds otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    total: AtomicU64,
    started: Instant,
    bar: Option<ProgressBar>,
    /// (done, last time logged), for the log-only mode.
    logged: Mutex<(u64, Instant)>,
}

impl Progress {
    /// A bar when stderr is a terminal, log lines otherwise.
    pub fn new(label: &'static str, total: u64) -> Progress {
        Progress::on_terminal(
            label,
            total,
            "{human_pos}/{human_len} ({per_sec}, eta {eta})",
        )
    }

    /// A bar counting bytes (of a file being read), log lines otherwise.
    pub fn bytes(label: &'static str, total: u64) -> Progress {
        Progress::on_terminal(
            label,
            total,
            "{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})",
        )
    }

    fn on_terminal(label: &'static str, total: u64, figures: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(&format!("{{msg:>8}} [{{bar:40}}] {figures}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label);
            bar
        });
        Progress::with_bar(label, total, bar)
    }

    /// Log lines only (tests, library callers that own the terminal).
    pub fn quiet(label: &'static str, total: u64) -> Progress {
        Progress::with_bar(label, total, None)
    }

    fn with_bar(label: &'static str, total: u64, bar: Option<ProgressBar>) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            total: AtomicU64::new(total),
            started: now,
            bar,
            logged: Mutex::new((0, now)),
        }
    }

    /// Sets how much work there is, once it is known (after the bar was made).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let Ok(mut logged) = self.logged.lock() else {
            return;
        };
        logged.0 += n;
        if logged.1.elapsed() >= LOG_EVERY {
            logged.1 = Instant::now();
            let rate = logged.0 as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                task = self.label,
                done = logged.0,
                total = self.total.load(Ordering::Relaxed),
                rate_per_s = rate as u64,
                "progress"
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// A reader that counts what it reads into a progress bar (of bytes).
#[derive(Debug)]
pub struct ProgressReader<R> {
    inner: R,
    progress: std::sync::Arc<Progress>,
}

impl<R> ProgressReader<R> {
    pub fn new(inner: R, progress: std::sync::Arc<Progress>) -> ProgressReader<R> {
        ProgressReader { inner, progress }
    }
}

impl<R: std::io::Read> std::io::Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
