//! The process-wide stop flags. Ctrl-C sets [`INTERRUPTED`]: the run takes no new work and HTTP
//! waits return at once. A closed stdout sets [`STOP_NEW_WORK`] only: the run takes no new work,
//! but requests already paid for finish and are kept (a paid reply is never thrown away just
//! because nobody reads the output).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the Ctrl-C handler (and when stdout is closed): workers finish the request in hand
/// and take no more.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set when stdout was closed by its reader: take no new work, finish what is in flight.
pub static STOP_NEW_WORK: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C asked to stop (requests in flight are abandoned).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Whether the run should start no new work (Ctrl-C, or nobody reads the output any more).
pub fn stop_new_work() -> bool {
    interrupted() || STOP_NEW_WORK.load(Ordering::SeqCst)
}

/// Catch Ctrl-C from now on: the first sets [`INTERRUPTED`], a second exits at once. Installed
/// by the work that can be interrupted (requests, analyses), not at start-up: the handler runs
/// on a thread of its own, which a run of cache hits need not start. Until then Ctrl-C ends the
/// process, which loses nothing (every write is atomic).
pub fn catch_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // Second Ctrl-C: the user means it.
                std::process::exit(crate::error::exit_code(
                    &Ok(crate::error::Exit::Interrupted),
                    false,
                ));
            }
        });
    });
}
