//! The one process-wide "stop taking new work" flag: set by Ctrl-C and by a closed stdout, read
//! by the run loop and by HTTP waits (which return at once when it is set).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the Ctrl-C handler (and when stdout is closed): workers finish the request in hand
/// and take no more.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the run was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
