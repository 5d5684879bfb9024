//! `retention completions` and `retention man`: generated from the clap definitions.

use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;

use super::write_stdout;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::bad;
use crate::output::write_atomic;

/// `retention completions SHELL`: the script on stdout.
pub fn completions(a: &CompletionsArgs) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "retention", &mut out);
    write_stdout(&out)
}

/// `retention man`: retention.1 on stdout, or every page into a directory.
pub fn man(a: &ManArgs) -> Result<()> {
    let cmd = Cli::command();
    let render = |c: clap::Command| -> Result<Vec<u8>> {
        let mut v = Vec::new();
        clap_mangen::Man::new(c).render(&mut v)?;
        Ok(v)
    };
    let Some(dir) = a.dir.as_deref() else {
        return write_stdout(&render(cmd)?);
    };
    check_dir(dir)?;
    write_atomic(&dir.join("retention.1"), &render(cmd.clone())?)?;
    for sub in cmd.get_subcommands() {
        let name = format!("retention-{}", sub.get_name());
        let page = sub
            .clone()
            .bin_name(format!("retention {}", sub.get_name()));
        let mut v = Vec::new();
        clap_mangen::Man::new(page)
            .title(name.clone())
            .render(&mut v)?;
        write_atomic(&dir.join(format!("{name}.1")), &v)?;
    }
    Ok(())
}

fn check_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(bad(format!("--dir '{}': not a directory", dir.display())));
    }
    Ok(())
}
