// No unwrap/expect outside tests: user data must give errors, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::Parser;

fn main() {
    // A panic is a bug: one line on stderr and exit code 1, never a backtrace dump.
    // Release builds abort on panic (smaller binary), so the hook itself exits with 1.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("retention: internal error (please report): {info}");
        #[cfg(panic = "abort")]
        std::process::exit(retention::error::EXIT_INTERNAL);
    }));
    let cli = retention::cli::Cli::parse();
    let name = cli.command.name();
    let result = std::panic::catch_unwind(|| retention::run(cli));
    let code = match result {
        Ok(Ok(())) => retention::error::EXIT_OK,
        Ok(Err(err)) => {
            let code = retention::error::exit_code(&err);
            if code != retention::error::EXIT_OK {
                eprintln!("retention {name}: {}", retention::error::one_line(&err));
            }
            code
        }
        Err(_) => retention::error::EXIT_INTERNAL,
    };
    std::process::exit(code);
}
