//! Deterministic generator of a realistic shop export (customers.csv, transactions.csv).
//!
//! cargo run --release --example generate -- --customers 500 --out examples/shop --seed 42
//!
//! Each customer signs up on a day between --start and --end through a channel (with its
//! acquisition cost); most make a first purchase soon after. Repeat buying follows the
//! BG/NBD story: a personal purchase rate λ ~ Gamma, and after each purchase the customer
//! drops out with a personal probability p ~ Beta. Order values follow a per-customer
//! Gamma mean; some orders are partly returned later (a separate negative row, order id
//! `R…`). The same seed gives the same files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

struct Args {
    customers: u64,
    out: PathBuf,
    seed: u64,
    start: NaiveDate,
    end: NaiveDate,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        customers: 500,
        out: PathBuf::from("examples/shop"),
        seed: 42,
        start: NaiveDate::from_ymd_opt(2023, 1, 1).ok_or("date")?,
        end: NaiveDate::from_ymd_opt(2024, 12, 31).ok_or("date")?,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--customers" => a.customers = val()?.parse().map_err(|e| format!("{e}"))?,
            "--out" => a.out = PathBuf::from(val()?),
            "--seed" => a.seed = val()?.parse().map_err(|e| format!("{e}"))?,
            "--start" => a.start = val()?.parse().map_err(|e| format!("{e}"))?,
            "--end" => a.end = val()?.parse().map_err(|e| format!("{e}"))?,
            "-h" | "--help" => {
                return Err("usage: generate [--customers N] [--out DIR] [--seed S] \
                     [--start YYYY-MM-DD] [--end YYYY-MM-DD]"
                    .into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.end <= a.start {
        return Err("--end must be after --start".into());
    }
    Ok(a)
}

/// (name, share of customers, acquisition cost, mean dropout multiplier)
const CHANNELS: [(&str, f64, f64, f64); 5] = [
    ("organic", 0.30, 0.0, 0.8),
    ("paid_search", 0.25, 38.0, 1.2),
    ("social", 0.20, 24.0, 1.5),
    ("referral", 0.15, 15.0, 0.6),
    ("email", 0.10, 8.0, 0.9),
];
const CATEGORIES: [&str; 5] = ["apparel", "shoes", "accessories", "home", "beauty"];

fn pick<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    std::fs::create_dir_all(&a.out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let mut cust = BufWriter::new(File::create(a.out.join("customers.csv"))?);
    let mut tx = BufWriter::new(File::create(a.out.join("transactions.csv"))?);
    writeln!(
        cust,
        "customer_id,signup_date,channel,acquisition_cost,country"
    )?;
    writeln!(tx, "order_id,customer_id,order_date,category,amount")?;

    let span = (a.end - a.start).num_days() as u64;
    let rate = Gamma::new(0.9, 1.0 / 30.0)?; // purchases per day, mean ~ one a month
    let delay = Exp::new(1.0 / 6.0)?; // days from signup to first purchase
    let countries = ["TH", "DE", "US", "GB", "FR"];
    let channel_w: Vec<f64> = CHANNELS.iter().map(|c| c.1).collect();
    let (mut order_no, mut return_no) = (0u64, 0u64);
    for i in 1..=a.customers {
        let id = format!("C{i:06}");
        let signup = a.start + Days::new(rng.random_range(0..=span));
        let ch = CHANNELS[pick(&mut rng, &channel_w)];
        let cost = if ch.2 > 0.0 {
            format!("{:.2}", ch.2 * (0.6 + 0.8 * rng.random::<f64>()))
        } else {
            "0".to_string()
        };
        let country = countries[pick(&mut rng, &[0.3, 0.2, 0.2, 0.15, 0.15])];
        writeln!(cust, "{id},{signup},{},{cost},{country}", ch.0)?;
        if rng.random::<f64>() < 0.15 {
            continue; // signed up, never bought
        }
        let lambda = f64::max(rate.sample(&mut rng), 1e-4);
        let p_drop: f64 = (Beta::new(1.0, 8.0)?.sample(&mut rng) * ch.3).min(0.95);
        let spend = Gamma::new(3.0, 18.0)?.sample(&mut rng) + 5.0;
        let cat_w: Vec<f64> = (0..CATEGORIES.len())
            .map(|_| rng.random::<f64>().powi(3) + 0.02)
            .collect();
        let mut day = signup + Days::new(delay.sample(&mut rng) as u64);
        while day <= a.end {
            order_no += 1;
            let cat = CATEGORIES[pick(&mut rng, &cat_w)];
            let amount = f64::max(Gamma::new(4.0, spend / 4.0)?.sample(&mut rng), 1.0);
            writeln!(tx, "O{order_no:08},{id},{day},{cat},{amount:.2}")?;
            if rng.random::<f64>() < 0.06 {
                let back = day + Days::new(rng.random_range(3..30));
                if back <= a.end {
                    return_no += 1;
                    let part = if rng.random::<f64>() < 0.7 { 1.0 } else { 0.5 };
                    writeln!(
                        tx,
                        "R{return_no:08},{id},{back},{cat},{:.2}",
                        -amount * part
                    )?;
                }
            }
            if rng.random::<f64>() < p_drop {
                break;
            }
            let gap = Exp::new(lambda)?.sample(&mut rng).ceil().max(1.0) as u64;
            day = day + Days::new(gap);
        }
    }
    cust.flush()?;
    tx.flush()?;
    eprintln!(
        "wrote {} customers, {order_no} orders and {return_no} returns to {}",
        a.customers,
        a.out.display()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("generate: {e}");
        std::process::exit(2);
    }
}
