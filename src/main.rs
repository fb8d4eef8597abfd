fn main() {
    // Heap growth and page faults: see the module doc of util::heap.
    rustassistant::util::heap::tune();
    std::process::exit(rustassistant::cli::main());
}
