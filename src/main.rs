fn main() {
    // An all-cached `analyze --all` over 100,000 files allocates a few hundred thousand small
    // strings on every core, and glibc grows a thread's heap a few pages at a time: 2,600
    // mprotect calls at 100,000 files, 24 with this pad. The pad is address space, not memory:
    // pages are still only mapped as they are touched. (A/B over 20 and 80 alternating runs:
    // 336 -> 324 ms at 100,000 files, 45.8 -> 44.8 ms at 10,000; see BENCHMARKS.md.)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
    std::process::exit(rustassistant::cli::main());
}
