//! The process-wide stop flags.
//!
//! - The first Ctrl-C stops new work: no new request is sent, and requests in flight are awaited
//!   up to their deadline and their replies stored ([`stop_new_work`]).
//! - The second Ctrl-C abandons the requests in flight ([`abandon`]): their waits return at
//!   once, and every reply that has already arrived is still stored before the process exits.
//! - A third Ctrl-C exits at once (130), for a process stuck where no flag is looked at; every
//!   write is atomic, so even that leaves no torn shard.
//!
//! A closed stdout sets [`STOP_NEW_WORK`] only: the run takes no new work, but requests already
//! paid for finish and are kept (a paid reply is never thrown away because nobody reads).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// How many times Ctrl-C was pressed (saturating).
static CTRL_C: AtomicU8 = AtomicU8::new(0);

/// Set when stdout was closed by its reader: take no new work, finish what is in flight.
pub static STOP_NEW_WORK: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed at least once.
pub fn interrupted() -> bool {
    CTRL_C.load(Ordering::SeqCst) > 0
}

/// Whether requests in flight are to be abandoned (the second Ctrl-C).
pub fn abandon() -> bool {
    CTRL_C.load(Ordering::SeqCst) > 1
}

/// Whether the run should start no new work or request (Ctrl-C, or nobody reads the output).
pub fn stop_new_work() -> bool {
    interrupted() || STOP_NEW_WORK.load(Ordering::SeqCst)
}

/// Record one Ctrl-C, as the handler does: returns how many there have been.
pub fn press() -> u8 {
    CTRL_C
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            Some(n.saturating_add(1))
        })
        .unwrap_or(u8::MAX)
        .saturating_add(1)
}

/// Catch Ctrl-C from now on (see the module doc). Installed by the work that can be
/// interrupted (requests, analyses), not at start-up: the handler runs on a thread of its own,
/// which a run of cache hits need not start. Until then Ctrl-C ends the process, which loses
/// nothing (every write is atomic, and nothing has been paid for).
pub fn catch_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let n = press();
            if n == 2 {
                say(
                    "interrupted again: abandoning the requests in flight; the replies already received are being stored (Ctrl-C once more to quit at once)",
                );
            }
            if n >= 3 {
                std::process::exit(crate::error::exit_code(
                    &Ok(crate::error::Exit::Interrupted),
                    false,
                ));
            }
            if n == 1 {
                say(
                    "interrupted: no new requests; waiting for the replies in flight (Ctrl-C again to abandon them)",
                );
            }
        });
    });
}

/// One line on stderr (the handler's own thread; a closed stderr is ignored).
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
