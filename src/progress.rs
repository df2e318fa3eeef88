//! Progress for long commands: a spinner with the current step on a terminal, plain
//! step lines on stderr otherwise (logs of a scheduled job stay readable). Counted stages
//! (every k tried, bootstrap refits, each churn candidate and fold) show a bar with rows,
//! steps done and an ETA, and a file being read its lines, megabytes and rate, on a
//! terminal only; elsewhere a read ends with one step line of its totals.

use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    quiet: bool,
}

impl Progress {
    /// A spinner when stderr is a terminal, step lines otherwise.
    pub fn for_terminal() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            quiet: false,
        }
    }

    /// No output at all (library use, tests).
    pub fn silent() -> Self {
        Progress {
            bar: None,
            started: Instant::now(),
            quiet: true,
        }
    }

    pub fn step(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(message.to_string()),
            None if !self.quiet => {
                eprintln!("[{:>6.1}s] {message}", self.started.elapsed().as_secs_f64())
            }
            None => {}
        }
    }

    /// A stage of `steps` equal-sized steps over `rows` rows; [`Stage::tick`] after each.
    pub fn stage(&self, what: &str, rows: usize, steps: u64) -> Stage {
        self.step(&format!("{what} ({rows} rows)"));
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed}] {msg} [{bar:20}] {pos}/{len}, about {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_length(steps);
            bar.set_position(0);
        }
        Stage {
            bar: self.bar.clone(),
            what: format!("{what} ({rows} rows)"),
            started: Cell::new(false),
        }
    }

    /// Reading a file of unknown length: lines, megabytes and rate on a terminal as it
    /// goes ([`Reading::update`]); one step line with the totals at [`Reading::done`].
    pub fn reading(&self, what: &str) -> Reading<'_> {
        self.step(what);
        Reading {
            progress: self,
            what: what.to_string(),
            started: Instant::now(),
            so_far: Cell::new((0, 0)),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One counted stage; back to the plain spinner when dropped.
pub struct Stage {
    bar: Option<ProgressBar>,
    what: String,
    /// Whether [`Stage::next`] has been called: the steps before this one are done.
    started: Cell<bool>,
}

impl Stage {
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The previous step is done and `step` starts (named on a terminal only).
    pub fn next(&self, step: &str) {
        if self.started.replace(true) {
            self.tick();
        }
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {step}", self.what));
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        }
    }
}

/// A file being read; see [`Progress::reading`].
pub struct Reading<'p> {
    progress: &'p Progress,
    what: String,
    started: Instant,
    /// Lines and bytes read so far.
    so_far: Cell<(u64, u64)>,
}

impl Reading<'_> {
    pub fn update(&self, lines: u64, bytes: u64) {
        self.so_far.set((lines, bytes));
        if let Some(bar) = &self.progress.bar {
            bar.set_message(format!("{}: {}", self.what, self.summary()));
        }
    }

    pub fn done(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        let summary = self.summary();
        (self.progress).step(&format!("{}: {summary} ({seconds:.1} s)", self.what));
    }

    /// `12000000 lines, 1034.2 MB, 850000 lines/s`
    fn summary(&self) -> String {
        let (lines, bytes) = self.so_far.get();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "{lines} lines, {:.1} MB, {:.0} lines/s",
            bytes as f64 / 1e6,
            lines as f64 / seconds
        )
    }
}
