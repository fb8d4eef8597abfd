fn main() {
    std::process::exit(rustassistant::cli::main());
}
