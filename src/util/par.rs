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
    // Each run writes its results straight into its place in `out` (gathering per-run lists
    // and copying them in order cost a copy of every result: 1.2M instructions for a 10,000
    // file identification).
    let mut out: Vec<R> = Vec::with_capacity(items.len());
    let rooms: Vec<std::sync::Mutex<Option<&mut [std::mem::MaybeUninit<R>]>>> = out
        .spare_capacity_mut()[..items.len()]
        .chunks_mut(run)
        .map(|room| std::sync::Mutex::new(Some(room)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.min(runs))
            .map(|_| {
                sc.spawn(|| {
                    let mut s = init();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= runs {
                            break;
                        }
                        let room = rooms[i]
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .take()
                            .expect("each run is taken once");
                        let c = &items[i * run..((i + 1) * run).min(items.len())];
                        for (slot, t) in room.iter_mut().zip(c) {
                            slot.write(f(&mut s, t));
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("worker panicked");
        }
    });
    drop(rooms);
    // SAFETY: the rooms cut the first `items.len()` places of the spare capacity into runs of
    // exactly their items' length; every run was taken by one worker, which wrote a value into
    // each of its places (a panic while writing propagated above, before this line, leaving
    // the values written so far leaked, never dropped twice).
    unsafe { out.set_len(items.len()) };
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
    let size = chunk_size(items.len(), min);
    let units = vec![(); items.len().div_ceil(size).max(1)];
    chunked(items, size, units, |at, chunk, ()| f(at, chunk))
}

/// The chunk size [`parallel_chunks_mut`] cuts `len` items into: one chunk per core, or all of
/// them in one where a core would get fewer than `min`.
fn chunk_size(len: usize, min: usize) -> usize {
    let threads = cores().min(8).min(len / min.max(1));
    if threads <= 1 {
        len.max(1)
    } else {
        len.div_ceil(threads)
    }
}

/// `f` on each `size`-item chunk of `items` with its offset and its own `extra`, the first on
/// this thread, the others on scoped threads; results in chunk order.
fn chunked<T: Send, X: Send, R: Send>(
    items: &mut [T],
    size: usize,
    extra: Vec<X>,
    f: impl Fn(usize, &mut [T], X) -> R + Sync,
) -> Vec<R> {
    assert_eq!(
        extra.len(),
        items.len().div_ceil(size).max(1),
        "one extra per chunk"
    );
    let mut extra = extra.into_iter();
    let first_extra = extra
        .next()
        .expect("one extra per chunk, and at least one chunk");
    if items.len() <= size {
        return vec![f(0, items, first_extra)];
    }
    let f = &f;
    std::thread::scope(|sc| {
        let mut chunks = items.chunks_mut(size).enumerate();
        let first = chunks.next().map(|(_, c)| c);
        let handles: Vec<_> = chunks
            .zip(extra)
            .map(|((i, c), x)| sc.spawn(move || f(i * size, c, x)))
            .collect();
        let mut out = Vec::with_capacity(handles.len() + 1);
        if let Some(c) = first {
            out.push(f(0, c, first_extra));
        }
        out.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("worker panicked")),
        );
        out
    })
}

/// Where one chunk of [`parallel_fill`] writes its values: a region of the output's spare
/// capacity, filled from its start.
pub struct Filler<'a, R> {
    room: &'a mut [std::mem::MaybeUninit<R>],
    len: usize,
}

impl<R> Filler<'_, R> {
    /// Append `value`; more values than the chunk was given room for is a bug (a panic).
    pub fn push(&mut self, value: R) {
        self.room
            .get_mut(self.len)
            .expect("a chunk wrote more values than it has room for")
            .write(value);
        self.len += 1;
    }
}

/// [`parallel_chunks_mut`] where each item yields at most `per_item` values into `out`: each
/// chunk writes into its own region of `out`'s spare capacity (reserved once, on this thread),
/// and the regions are closed up in chunk order. Values made on worker threads and gathered
/// afterwards would be allocated in the workers' heaps and copied: at 200,000 result lines that
/// cost more page faults and copying than the threads saved.
pub fn parallel_fill<T: Send, R: Send, A: Send>(
    items: &mut [T],
    min: usize,
    per_item: usize,
    out: &mut Vec<R>,
    f: impl Fn(usize, &mut [T], &mut Filler<'_, R>) -> A + Sync,
) -> Vec<A> {
    let start = out.len();
    out.reserve(items.len() * per_item);
    let size = chunk_size(items.len(), min);
    let chunks = items.len().div_ceil(size).max(1);
    let mut rooms = Vec::with_capacity(chunks);
    let mut rest = &mut out.spare_capacity_mut()[..items.len() * per_item];
    for _ in 0..chunks {
        let n = (size * per_item).min(rest.len());
        let (room, r) = std::mem::take(&mut rest).split_at_mut(n);
        rooms.push(room);
        rest = r;
    }
    let filled = chunked(items, size, rooms, |at, chunk, room| {
        let mut fill = Filler { room, len: 0 };
        let a = f(at, chunk, &mut fill);
        (a, fill.len)
    });
    let mut end = start;
    let mut results = Vec::with_capacity(filled.len());
    for (i, (a, n)) in filled.into_iter().enumerate() {
        // SAFETY: chunk `i`'s region starts at `start + i * size * per_item` and its first `n`
        // places hold the values it wrote, which nothing else reads. Regions are disjoint and
        // in order, so moving each down to `end` (never past its own start) overwrites only
        // values already moved or spare capacity.
        unsafe {
            let base = out.as_mut_ptr();
            std::ptr::copy(base.add(start + i * size * per_item), base.add(end), n);
        }
        end += n;
        results.push(a);
    }
    // SAFETY: the first `end` places hold initialised values: those before `start` already did,
    // the rest were just closed up from the chunks' regions.
    unsafe { out.set_len(end) };
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_order_with_state_per_worker_and_a_panic_propagates() {
        for (threads, len) in [(1, 100), (2, 63), (2, 64), (3, 1000), (8, 10_001)] {
            let items: Vec<usize> = (0..len).collect();
            // Values that own memory: a place written twice or never would show under
            // valgrind, and a wrong order in the comparison.
            let got = map_on(
                threads,
                &items,
                || 0usize,
                |seen, &i| {
                    *seen += 1;
                    (i.to_string(), *seen)
                },
            );
            assert_eq!(got.len(), len);
            for (i, (s, seen)) in got.iter().enumerate() {
                assert_eq!(s, &i.to_string());
                assert!(*seen >= 1);
            }
            // Each worker's state counted its own items: together, every item once.
            let firsts = got.iter().filter(|(_, seen)| *seen == 1).count();
            assert!((1..=threads).contains(&firsts));
        }
        let items: Vec<usize> = (0..5000).collect();
        let r = std::panic::catch_unwind(|| {
            map_on(
                2,
                &items,
                || (),
                |_, &i| {
                    assert!(i != 4321, "boom");
                    i.to_string()
                },
            )
        });
        assert!(r.is_err());
    }

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
        }
    }

    #[test]
    fn fill_keeps_every_value_in_chunk_order_whatever_each_chunk_writes() {
        for len in [0, 1, 7, 5000, 10_001] {
            let mut items: Vec<usize> = (0..len).collect();
            let mut out = vec![String::from("before")];
            // Item i writes i % 3 values: chunks leave gaps the closing up must remove.
            parallel_fill(&mut items, 1000, 2, &mut out, |_, chunk, fill| {
                for &mut i in chunk {
                    for k in 0..i % 3 {
                        if k < 2 {
                            fill.push(format!("{i}.{k}"));
                        }
                    }
                }
            });
            let want: Vec<String> = std::iter::once("before".to_string())
                .chain((0..len).flat_map(|i| (0..(i % 3).min(2)).map(move |k| format!("{i}.{k}"))))
                .collect();
            assert_eq!(out, want, "len {len}");
        }
    }
}
