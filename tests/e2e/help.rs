//! `--help` of the tool and of every command, against `testdata/help/NAME.txt` (rendered at
//! 100 columns). After changing a flag's help on purpose, regenerate them all with
//! `UPDATE_HELP=1 cargo test --test e2e help::` and review the diff.

use clap::CommandFactory;

fn render(cmd: &mut clap::Command) -> String {
    cmd.render_long_help().to_string()
}

#[test]
fn help_of_every_command_is_snapshotted() {
    let dir = crate::common::root("testdata/help");
    let update = std::env::var_os("UPDATE_HELP").is_some();
    let mut root = retention::cli::Cli::command().term_width(100);
    root.build();
    let mut pages: Vec<(String, String)> = vec![("retention".into(), render(&mut root.clone()))];
    for sub in root.get_subcommands_mut() {
        let name = sub.get_name().to_string();
        if name == "help" {
            continue;
        }
        pages.push((name, render(sub)));
    }
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        let path = std::path::Path::new(&dir).join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == *text => {}
            _ => stale.push(name.clone()),
        }
    }
    // no snapshot of a command that no longer exists
    if !update {
        for e in std::fs::read_dir(&dir).unwrap() {
            let f = e.unwrap().file_name().to_string_lossy().to_string();
            let name = f.trim_end_matches(".txt");
            assert!(
                pages.iter().any(|(n, _)| n == name),
                "testdata/help/{f}: no such command"
            );
        }
    }
    assert!(
        stale.is_empty(),
        "--help changed for {stale:?}: run `UPDATE_HELP=1 cargo test --test e2e help::` and review \
         the diff of testdata/help/"
    );
}
