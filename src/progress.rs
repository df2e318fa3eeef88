//! Progress for long commands: a spinner with the current step on a terminal, plain
//! step lines on stderr otherwise (logs of a scheduled job stay readable).

use indicatif::{ProgressBar, ProgressStyle};
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

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
