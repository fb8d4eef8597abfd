fn main() {
    // Heap growth and page faults: see sys::tune_allocator.
    rustassistant::sys::tune_allocator();
    std::process::exit(rustassistant::cli::main());
}
