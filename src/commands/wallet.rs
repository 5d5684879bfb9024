//! `retention wallet`.

use anyhow::Result;

use super::{destination, load_input_with_category, print_notes, Ctx};
use crate::cli::WalletArgs;
use crate::load;
use crate::reports::wallet::{self, WalletParams, WalletSource};

/// The flags as the report's settings: `--wallet FILE` is read here (its warnings on
/// stderr).
pub fn resolve(name: &str, a: &WalletArgs) -> Result<WalletParams> {
    let wallet = match (&a.wallet, a.estimate_wallet) {
        (Some(path), _) => {
            let opts = crate::config::load_options(&a.input, vec![])?;
            let mut warnings = Vec::new();
            let w = load::load_wallet(&[load::Source::from_arg(path)], &opts, &mut warnings)?;
            for w in &warnings {
                eprintln!("retention {name}: warning: {w}");
            }
            WalletSource::File(w)
        }
        (None, true) => WalletSource::Estimate,
        (None, false) => WalletSource::None,
    };
    Ok(WalletParams {
        wallet,
        by: a.by.clone(),
        per_customer: a.per_customer,
    })
}

pub fn run(ctx: &Ctx, a: &WalletArgs) -> Result<()> {
    let dest = destination(&a.output)?;
    let ds = load_input_with_category(ctx.name, &a.input, a.by.iter().cloned().collect())?;
    // The wallet file is read after the transactions (their warnings come first).
    let p = resolve(ctx.name, a)?;
    let mut notes = Vec::new();
    let coded = crate::reports::CodedTx::of(&ds, false)?;
    let report = wallet::run_shared(
        Some(&coded),
        &ds.tx,
        ds.customers.as_ref(),
        ds.as_of,
        &p,
        &mut notes,
    )?;
    print_notes(ctx.name, &notes);
    dest.write(&report)
}
