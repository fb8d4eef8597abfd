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
/// (each worker takes contiguous runs of `items`, so state such as an open folder handle is
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

/// The one loop behind the maps above: `items` cut into runs that `threads` scoped threads take
/// in turn, each thread with state of its own, the results put back in order. Runs handed out as
/// threads come free (not one fixed share each) keep every core busy when another thread of
/// this process, or a slow disk, holds one of them up.
fn map_on<T: Sync, S, R: Send>(
    threads: usize,
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    if items.len() < 64 || threads <= 1 {
        let mut s = init();
        return items.iter().map(|t| f(&mut s, t)).collect();
    }
    // Small enough that the threads end together, large enough that neighbours share state
    // (an open folder handle) and the counter is not contended.
    let run = (items.len() / (threads * 16)).max(32);
    let runs = items.len().div_ceil(run);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<Vec<(usize, Vec<R>)>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.min(runs))
            .map(|_| {
                sc.spawn(|| {
                    let mut s = init();
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= runs {
                            break;
                        }
                        let c = &items[i * run..((i + 1) * run).min(items.len())];
                        mine.push((i, c.iter().map(|t| f(&mut s, t)).collect::<Vec<R>>()));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    let mut ordered: Vec<Option<Vec<R>>> = (0..runs).map(|_| None).collect();
    for (i, r) in done.into_iter().flatten() {
        ordered[i] = Some(r);
    }
    let mut out = Vec::with_capacity(items.len());
    for r in ordered {
        out.extend(r.expect("every run is mapped once"));
    }
    out
}

/// Call `f` on `items` cut into one contiguous chunk per core (the calling thread takes the
/// first), with each chunk's offset in `items`; the results come back in chunk order. For
/// uniform, memory-bound steps over long lists (a run's 200,000 keys), where [`map_on`]'s
/// runs and per-item results would cost more than they balance. Fewer than `min` items per
/// chunk: one call on this thread.
pub fn parallel_chunks_mut<T: Send, R: Send>(
    items: &mut [T],
    min: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let threads = cores().min(8).min(items.len() / min.max(1));
    if threads <= 1 {
        return vec![f(0, items)];
    }
    let size = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|sc| {
        let mut chunks = items.chunks_mut(size).enumerate();
        let first = chunks.next().map(|(_, c)| c);
        let handles: Vec<_> = chunks
            .map(|(i, c)| sc.spawn(move || f(i * size, c)))
            .collect();
        let mut out = Vec::with_capacity(threads);
        if let Some(c) = first {
            out.push(f(0, c));
        }
        out.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("worker panicked")),
        );
        out
    })
}

/// [`parallel_chunks_mut`] over the positions `0..len` only, for steps that read shared lists.
pub fn parallel_ranges<R: Send>(
    len: usize,
    min: usize,
    f: impl Fn(std::ops::Range<usize>) -> R + Sync,
) -> Vec<R> {
    // Zero-sized items: the chunks cost nothing to cut.
    let mut positions = vec![(); len];
    parallel_chunks_mut(&mut positions, min, |at, c| f(at..at + c.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_once_at_their_offsets_in_order() {
        for len in [0, 1, 5, 4095, 4096, 8192, 10_001] {
            let mut items: Vec<usize> = vec![usize::MAX; len];
            let parts = parallel_chunks_mut(&mut items, 1000, |at, c| {
                for (k, x) in c.iter_mut().enumerate() {
                    *x = at + k;
                }
                (at, c.len())
            });
            assert!(items.iter().enumerate().all(|(i, &x)| x == i), "len {len}");
            let mut next = 0;
            for (at, n) in parts {
                assert_eq!(at, next, "len {len}: chunks in order");
                next += n;
            }
            assert_eq!(next, len);
            let ranges = parallel_ranges(len, 1000, |r| r);
            assert_eq!(ranges.iter().map(|r| r.len()).sum::<usize>(), len);
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
