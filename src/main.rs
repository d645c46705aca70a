//! The `cutover` binary: parses arguments, sets up logging, runs the command and turns the
//! outcome into the documented exit code.

use std::io::Write;

use clap::FromArgMatches;
use cutover::cli::{Cli, Format};
use cutover::error::exit;

fn main() {
    // The command line as typed, for a cutover's journal (lossy: an argument that is not
    // UTF-8 cannot have passed clap's checks anyway).
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The long version (`--version`) names librdkafka and its features; it is computed here,
    // as clap's derive takes only static text.
    let matches = cutover::cmd::kit::command().get_matches_from(&argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(cli.verbose);
    let format = cli.format;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: internal error: cannot start the async runtime: {e}");
            std::process::exit(exit::INTERNAL);
        }
    };
    let started = std::time::Instant::now();
    let outcome = runtime.block_on(cutover::cmd::run(cli, argv));
    tracing::debug!(elapsed = ?started.elapsed(), "command finished");
    let code = match outcome {
        Ok(code) => code,
        Err(err) => {
            if format == Format::Json {
                let doc = serde_json::json!({
                    "schema_version": 1,
                    "error": { "message": err.to_string(), "hint": err.hint(), "exit_code": err.exit_code() },
                });
                // Best effort: the error itself still reaches stderr below.
                let _ = writeln!(std::io::stdout(), "{doc}");
            }
            eprintln!("{}", err.render());
            err.exit_code()
        }
    };
    // Not `std::process::exit`: its C at-exit handlers (OpenSSL's cleanup) would run under
    // librdkafka threads still alive (see `exit_process`).
    cutover::kafka::exit_process(code);
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUTOVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
