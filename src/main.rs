use clap::Parser;

fn main() {
    let cli = retention::cli::Cli::parse();
    let name = cli.command.name();
    if let Err(err) = retention::run(cli) {
        let code = retention::error::exit_code(&err);
        if code != retention::error::EXIT_OK {
            eprintln!("retention {name}: {}", retention::error::one_line(&err));
        }
        std::process::exit(code);
    }
}
