//! The usual command-line kit: shell completions and the man page, both generated from the
//! clap definitions in [`crate::cli`] so they never drift from the real grammar.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{exit, Error, Result};

/// The clap command with the long version the binary prints.
pub fn command() -> clap::Command {
    Cli::command().long_version(crate::version::long_version())
}

/// Writes a completion script for `shell` to stdout.
pub fn completions(shell: Shell) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "cutover", &mut script);
    write_out(&script)
}

/// Writes the man page (roff) to stdout.
pub fn man() -> Result<i32> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command())
        .render(&mut page)
        .map_err(|e| Error::Internal(format!("cannot render the man page: {e}")))?;
    write_out(&page)
}

fn write_out(bytes: &[u8]) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::OK),
        // `cutover man | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(source) => Err(Error::Output {
            what: "standard output".into(),
            source,
        }),
    }
}
