//! `spate completions SHELL`: the shell's completion script, on stdout.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::{Cli, Outcome};

pub fn run(shell: Shell) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "spate", &mut std::io::stdout());
    Ok(Outcome::Healthy)
}
