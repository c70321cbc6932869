//! SIGINT and SIGTERM during a run. The first stops new work: no host starts another task, the
//! steps under way finish (a file write is whole or absent on the host either way), and the recap
//! says the run was interrupted. A second ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    /// As a shell reports a process ended by the signal: 128 + its number.
    pub fn exit_status(self) -> i32 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    fn number(self) -> i32 {
        self.exit_status() - 128
    }

    fn from_number(n: i32) -> Option<Signal> {
        [Signal::Int, Signal::Term]
            .into_iter()
            .find(|s| s.number() == n)
    }
}

/// Whether the run was asked to stop, and by which signal.
#[derive(Debug, Default)]
pub struct Interrupt {
    signal: AtomicI32,
}

impl Interrupt {
    pub fn signal(&self) -> Option<Signal> {
        Signal::from_number(self.signal.load(Ordering::SeqCst))
    }

    /// Records the first signal; says whether this was the first.
    pub fn request(&self, signal: Signal) -> bool {
        self.signal
            .compare_exchange(0, signal.number(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Listens for SIGINT and SIGTERM from now on, for the life of the process.
    pub fn listen(self: &Arc<Self>) {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = int.recv() => Signal::Int,
                    _ = term.recv() => Signal::Term,
                };
                if me.request(got) {
                    eprintln!(
                        "\n{}: finishing the steps under way and starting no new task; send it again to stop at once",
                        got.name()
                    );
                } else {
                    eprintln!("\n{}: stopping at once", got.name());
                    std::process::exit(got.exit_status());
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_is_kept() {
        let i = Interrupt::default();
        assert_eq!(i.signal(), None);
        assert!(i.request(Signal::Term));
        assert!(!i.request(Signal::Int));
        assert_eq!(i.signal(), Some(Signal::Term));
        assert_eq!(Signal::Term.exit_status(), 143);
        assert_eq!(Signal::Int.exit_status(), 130);
    }
}
