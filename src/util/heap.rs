//! How the process asks glibc's allocator for memory (glibc on Linux only; elsewhere nothing).
//!
//! A run allocates ten-thousands of small strings and a few lists of megabytes, all kept until
//! it ends. Left to its defaults, glibc grows the heap a few pages at a time, serves every block
//! over 128 kB from a fresh mapping, and the kernel then faults each 4 kB page in on first
//! touch: 2,500 page faults in an all-cached `analyze --all` of 10,000 files, against 660 for
//! `git status`. Here the heap grows in large steps, big blocks come from the heap (where freed
//! memory is reused), and the heap is marked for transparent huge pages, so the kernel maps it
//! 2 MB at a time where it has such pages to give (`transparent_hugepage=madvise`, the common
//! default; with `never` the mark is ignored, with `always` it is implied).
//!
//! Only the main heap is marked. Worker threads allocate from arenas of their own, whose first
//! 2 MB already hold pages by the time a thread could mark them, and a worker of a 10,000-file
//! run allocates less than that: marking them was measured to change nothing.
//!
//! What callers may rely on: [`tune`] only changes allocator parameters and marks address
//! space; it allocates nothing that stays and never fails. Call it first thing in `main`,
//! before any thread exists.

/// Extra heap reserved on every growth, by the main heap and by the threads' arenas alike
/// (without it, glibc made 2,600 `mprotect` calls growing the arenas of a 100,000-file run, 24
/// with it). Address space, not memory: pages are only mapped as they are touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: usize = 64 << 20;

/// Blocks from this size on get a mapping of their own (glibc's highest allowed value on
/// 64-bit: half its 64 MB arena size). Below it they come from the heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: usize = 32 << 20;

/// Tune the allocator for this process (see the module doc).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets allocator parameters; malloc/free of one block; sbrk(0) only reads
    // the break; madvise(MADV_HUGEPAGE) only marks a range of our own heap, which stays mapped.
    // Called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD as libc::c_int);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        // Never hand the top of the heap back while the run lasts.
        libc::mallopt(libc::M_TRIM_THRESHOLD, (2 * TOP_PAD) as libc::c_int);
        // Grow the heap once now (a block larger than what is left at its top, freed at once:
        // the heap keeps the pad), then mark what it spans.
        let lo = libc::sbrk(0) as usize;
        // (black_box: the compiler would drop an unused malloc/free pair.)
        let p = std::hint::black_box(libc::malloc(1 << 20));
        libc::free(p);
        let hi = libc::sbrk(0) as usize;
        let page = 4096;
        let start = (lo + page - 1) & !(page - 1);
        if lo != usize::MAX && hi > start {
            libc::madvise(start as *mut libc::c_void, hi - start, libc::MADV_HUGEPAGE);
        }
    }
}
