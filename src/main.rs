use clap::Parser;

fn main() -> std::process::ExitCode {
    seatledger::allocator::restart_with_tuned_malloc();
    let cli = seatledger::cli::Cli::parse();
    cli.install_log();
    seatledger::cli::main(cli)
}
