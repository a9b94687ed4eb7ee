use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = seatledger::cli::Cli::parse();
    cli.install_log();
    seatledger::cli::main(cli)
}
