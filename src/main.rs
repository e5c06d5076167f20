#[global_allocator]
static ALLOC: vnvme::alloc_count::CountingAlloc = vnvme::alloc_count::CountingAlloc;

fn main() {
    std::process::exit(vnvme::cli::main());
}
