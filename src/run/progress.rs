//! What a run shows while it goes: a line per host with the task it is on (on a terminal),
//! and a line for every change and failure, as Ansible users expect.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    multi: Option<MultiProgress>,
    /// Print per-task event lines (off for --json).
    events: bool,
    verbose: bool,
}

pub struct HostProgress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(events: bool, verbose: bool) -> Progress {
        let bars = events && std::io::stderr().is_terminal();
        Progress {
            multi: bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            events,
            verbose,
        }
    }

    pub fn silent() -> Progress {
        Progress {
            multi: None,
            events: false,
            verbose: false,
        }
    }

    pub fn host(&self, name: &str, tasks: usize) -> HostProgress {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(tasks as u64));
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} [{pos}/{len}] {wide_msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(name.to_string());
            bar.set_message("connecting");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        HostProgress { bar }
    }

    /// A line about one task on one host.
    pub fn event(&self, line: &str) {
        if !self.events {
            return;
        }
        match &self.multi {
            Some(m) => m.suspend(|| print_line(line)),
            None => print_line(line),
        }
    }

    pub fn verbose(&self, line: &str) {
        if self.verbose {
            self.event(line);
        }
    }
}

impl HostProgress {
    pub fn task(&self, position: usize, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(position as u64);
            bar.set_message(crate::redact::clean(name).into_owned());
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Prints to stdout; a closed pipe (`provision … | head`) is not an error worth a panic.
pub fn print_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{}", crate::redact::clean(line));
}
