//! Progress of long CLI work (`check`, `demo --companies`, `migrate`): a bar redrawn in place on a
//! terminal, plain log lines now and then otherwise (logs, CI). Both go to stderr, so stdout keeps
//! only the command's result. Storage reports steps through `Progress` and never prints itself.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Where long work reports how far it is: `done` of `total` units of `what`.
pub trait Progress {
    fn step(&mut self, what: &str, done: u64, total: u64);
}

/// Reports nothing: for servers and tests.
pub struct Silent;

impl Progress for Silent {
    fn step(&mut self, _: &str, _: u64, _: u64) {}
}

/// How often a terminal's bar is redrawn, and how often a plain line is written.
const REDRAW: Duration = Duration::from_millis(100);
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Progress on stderr: a bar on a terminal, a line every few seconds (and at the end) otherwise.
pub struct Stderr {
    terminal: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Stderr {
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }

    /// Ends a bar's line so what follows starts on its own.
    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

impl Default for Stderr {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Stderr {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for Stderr {
    fn step(&mut self, what: &str, done: u64, total: u64) {
        let finished = done >= total;
        let every = if self.terminal { REDRAW } else { LINE_EVERY };
        if !finished && self.last.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", bar(what, done, total, 30));
            self.drawn = true;
            if finished {
                let _ = writeln!(err);
                self.drawn = false;
            }
        } else {
            // Off a terminal stderr is the log: the line goes through it, so it reads as a log
            // line in text or JSON (`--log-format json`) alike.
            tracing::info!("{}", line(what, done, total));
        }
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done.min(total) * 100).checked_div(total).unwrap_or(100)
}

/// "[#######.......]  45% check: 450 of 1,000 seat events" for a terminal.
pub fn bar(what: &str, done: u64, total: u64, width: usize) -> String {
    let filled = (done.min(total) as usize * width)
        .checked_div(total as usize)
        .unwrap_or(width);
    format!(
        "[{}{}] {:>3}% {what}: {} of {}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        percent(done, total),
        crate::format::count(i64::try_from(done).unwrap_or(i64::MAX)),
        crate::format::count(i64::try_from(total).unwrap_or(i64::MAX)),
    )
}

/// "check: 45% (450 of 1,000 seat events)" for logs.
pub fn line(what: &str, done: u64, total: u64) -> String {
    format!(
        "{what}: {}% ({} of {})",
        percent(done, total),
        crate::format::count(i64::try_from(done).unwrap_or(i64::MAX)),
        crate::format::count(i64::try_from(total).unwrap_or(i64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bar_fills_with_the_work_done() {
        assert_eq!(
            super::bar("seat events", 450, 1_000, 10),
            "[####......]  45% seat events: 450 of 1,000"
        );
        assert_eq!(
            super::bar("migrations", 3, 3, 4),
            "[####] 100% migrations: 3 of 3"
        );
        assert_eq!(super::bar("nothing", 0, 0, 2), "[##] 100% nothing: 0 of 0");
    }

    #[test]
    fn a_plain_line_says_the_same_for_logs() {
        assert_eq!(
            super::line("companies", 2_500, 10_000),
            "companies: 25% (2,500 of 10,000)"
        );
    }
}
