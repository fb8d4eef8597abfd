//! Bounded parallel map: order-keeping, on scoped threads, no pool to set up.

/// Map `f` over `items` on every core, keeping order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    parallel_map_on(cores().min(8), items, f)
}

/// The number of cores (1 when unknown).
pub fn cores() -> usize {
    // Asked once: on Linux each call reads the cgroup files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Map `f` over `items` on every core, keeping order, with state `init` makes once per worker
/// (each worker takes one contiguous run of `items`, so state such as an open folder handle is
/// reused across neighbours).
pub fn parallel_map_with<T: Sync, S, R: Send>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    map_on(cores().min(8), items, init, f)
}

/// [`parallel_map`] on `threads` threads: more than the cores for work that mostly waits for
/// the disk.
pub fn parallel_map_on<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_on(threads, items, || (), |_, t| f(t))
}

/// The one loop behind the maps above: `items` split into `threads` contiguous runs, each mapped
/// on a scoped thread with state of its own.
fn map_on<T: Sync, S, R: Send>(
    threads: usize,
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    if items.len() < 64 || threads == 1 {
        let mut s = init();
        return items.iter().map(|t| f(&mut s, t)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                sc.spawn(|| {
                    let mut s = init();
                    c.iter().map(|t| f(&mut s, t)).collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    })
}
