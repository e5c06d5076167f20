fn main() {
    std::process::exit(vnvme::cli::main());
}
