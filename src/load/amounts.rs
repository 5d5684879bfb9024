//! Amounts held exactly as scaled integers: where every amount of the transactions has at
//! most [`MAX_DECIMALS`] decimals and fits, the store holds them as `i32` counts of
//! 10^-k (column `__amount_e{k}`, 4 bytes a row instead of 8), else as `f64` (column
//! `amount`). Reports read either through [`Amounts`]; a value read back is the parsed
//! `f64` bit for bit (checked for every value as it is converted: the count and the power
//! of ten are exact in `f64`, and one division rounds correctly), so no number changes.
//!
//! Chunks are converted as they are read ([`scale_frame`]), each at the fewest decimals
//! it needs, and brought to one scale when stacked ([`unify`]); a chunk that cannot be
//! held so (more decimals, too large a value, a negative zero) turns the whole column back
//! into `f64`.

use polars::prelude::*;

/// The most decimals a scaled amount column holds (a count of 10^-6 fits amounts up to
/// ±2,147.48; larger values take fewer decimals or stay `f64`).
pub const MAX_DECIMALS: u32 = 6;

/// The name of the `f64` amount column.
pub const FLOAT: &str = "amount";

/// The prefix of a scaled amount column's name (`__amount_e2`: counts of 0.01).
const SCALED: &str = "__amount_e";

/// Powers of ten up to 10^MAX_DECIMALS, exact in `f64`.
const POW10: [f64; MAX_DECIMALS as usize + 1] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// 10^`k` (`k` ≤ [`MAX_DECIMALS`]): a count of 10^-`k` is `m as f64 / pow10(k)`.
pub fn pow10(k: u32) -> f64 {
    POW10[k as usize]
}

/// The name of the column of counts of 10^-`k`.
pub fn scaled_name(k: u32) -> String {
    format!("{SCALED}{k}")
}

/// The decimals of a scaled column's name; None for any other name.
fn decimals_of_name(name: &str) -> Option<u32> {
    name.strip_prefix(SCALED)?
        .parse()
        .ok()
        .filter(|k| *k <= MAX_DECIMALS)
}

/// Whether `name` is an amount column's (`amount` or `__amount_e{k}`).
pub fn is_amount_column(name: &str) -> bool {
    name == FLOAT || decimals_of_name(name).is_some()
}

/// The decimals of a scaled amount column; None for any other.
pub fn decimals_of_column(c: &Column) -> Option<u32> {
    decimals_of_name(c.name())
}

/// The unit of counts of 10^-`k`, as a decimal (`1`, `0.01`).
pub fn unit(k: u32) -> String {
    match k {
        0 => "1".to_string(),
        k => format!("0.{}1", "0".repeat(k as usize - 1)),
    }
}

/// The name of `df`'s amount column (`amount` or `__amount_e{k}`), if it has one.
pub fn column_name(df: &DataFrame) -> Option<PlSmallStr> {
    df.get_column_names()
        .into_iter()
        .find(|n| is_amount_column(n))
        .cloned()
}

/// `v` as a count of 10^-`k`, when that count fits `i32` and gives `v` back bit for bit.
#[inline]
fn count_of(v: f64, k: u32) -> Option<i32> {
    let p = POW10[k as usize];
    let m = (v * p).round();
    // (NaN and infinities are not in range either)
    if m.is_nan() || m.abs() > i32::MAX as f64 {
        return None;
    }
    let m = m as i32;
    ((m as f64 / p).to_bits() == v.to_bits()).then_some(m)
}

/// The fewest decimals above `k` at which `v` is a count; None when it is not at any.
fn decimals_for(v: f64, k: u32) -> Option<u32> {
    (k + 1..=MAX_DECIMALS).find(|&j| count_of(v, j).is_some())
}

/// `ca` as counts of 10^-k with the fewest decimals k; None when it cannot be held so.
/// (One pass at the decimals found so far; a value that needs more starts it again.)
pub fn scale(ca: &Float64Chunked) -> Option<(Int32Chunked, u32)> {
    use rayon::prelude::*;
    let mut k = 0;
    'again: loop {
        let mut out: Option<Int32Chunked> = None;
        for a in ca.downcast_iter() {
            // (null slots count 0; Err: a value that is not a count at k)
            let counts: Result<Int32Chunked, f64> = match a.validity() {
                None => a
                    .values()
                    .par_iter()
                    .with_min_len(1 << 15)
                    .map(|&v| count_of(v, k).ok_or(v))
                    .collect::<Result<Vec<i32>, f64>>()
                    .map(|v| Int32Chunked::from_vec(ca.name().clone(), v)),
                Some(_) => a
                    .iter()
                    .map(|v| v.map(|&v| count_of(v, k).ok_or(v)).transpose())
                    .collect::<Result<Vec<Option<i32>>, f64>>()
                    .map(|v| Int32Chunked::from_iter_options(ca.name().clone(), v.into_iter())),
            };
            match counts {
                Ok(c) => match &mut out {
                    None => out = Some(c),
                    Some(o) => o.append_owned(c).ok()?,
                },
                Err(v) => {
                    k = decimals_for(v, k)?;
                    continue 'again;
                }
            }
        }
        let empty = || Int32Chunked::from_vec(ca.name().clone(), Vec::new());
        return Some((out.unwrap_or_else(empty), k));
    }
}

/// A frame's `f64` amount column held as counts where it can be (else left as it is).
pub fn scale_frame(df: &mut DataFrame) -> PolarsResult<()> {
    let Ok(c) = df.column(FLOAT) else {
        return Ok(());
    };
    let Ok(ca) = c.f64() else {
        return Ok(());
    };
    if let Some((counts, k)) = scale(ca) {
        let at = df.get_column_index(FLOAT).unwrap_or(0);
        let _ = df.drop_in_place(FLOAT)?;
        df.insert_column(at, counts.with_name(scaled_name(k).into()).into_column())?;
    }
    Ok(())
}

/// Bring the amount columns of frames to be stacked to one type: counts at the most
/// decimals any has, or `f64` in all where one is `f64` or a count would not fit.
pub fn unify(frames: &mut [DataFrame]) -> PolarsResult<()> {
    // (an empty frame, as an empty part gives, takes whatever type the others have)
    let scales: Vec<Option<u32>> = frames
        .iter()
        .map(|df| match df.height() {
            0 => Some(0),
            _ => column_name(df).and_then(|n| decimals_of_name(&n)),
        })
        .collect();
    if scales.iter().all(|s| s.is_none()) {
        return Ok(());
    }
    let top = scales.iter().flatten().copied().max().unwrap_or(0);
    let mut fits = scales.iter().all(|s| s.is_some());
    if fits {
        // (counts at fewer decimals are multiplied up: checked to fit)
        for (df, s) in frames.iter().zip(&scales) {
            let k = s.unwrap_or(top);
            if k < top {
                let f = 10i64.pow(top - k);
                let c = df.column(&scaled_name(k))?.i32()?;
                if c.iter()
                    .flatten()
                    .any(|m| i32::try_from(m as i64 * f).is_err())
                {
                    fits = false;
                    break;
                }
            }
        }
    }
    for (df, s) in frames.iter_mut().zip(&scales) {
        let Some(k) = *s else {
            continue;
        };
        let Some(name) = column_name(df) else {
            continue;
        };
        if fits && name.as_str() == scaled_name(top) {
            // (at the common scale already: left as it is, not copied)
            continue;
        }
        let at = df.get_column_index(&name).unwrap_or(0);
        let c = df.drop_in_place(&name)?.cast(&DataType::Int32)?;
        let counts = c.i32()?;
        let column = if fits {
            let f = 10i32.pow(top - k);
            (counts * f)
                .with_name(scaled_name(top).into())
                .into_column()
        } else {
            Amounts::Scaled(counts.clone(), k)
                .to_float()?
                .with_name(FLOAT.into())
                .into_column()
        };
        df.insert_column(at, column)?;
    }
    Ok(())
}

/// A frame's amounts: the `f64` column, or counts of 10^-k.
#[derive(Clone)]
pub enum Amounts {
    Float(Float64Chunked),
    Scaled(Int32Chunked, u32),
}

impl Amounts {
    /// The amounts of `df` (either column; a numeric `amount` of another type is cast to
    /// `f64`).
    pub fn of(df: &DataFrame) -> PolarsResult<Amounts> {
        let name = column_name(df).ok_or_else(|| polars_err!(ColumnNotFound: "amount"))?;
        let c = df.column(&name)?;
        Ok(match decimals_of_name(&name) {
            Some(k) => Amounts::Scaled(c.i32()?.clone(), k),
            None => Amounts::Float(c.cast(&DataType::Float64)?.f64()?.clone()),
        })
    }

    /// Every amount in row order (None: null).
    pub fn iter(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        let (floats, counts) = match self {
            Amounts::Float(a) => (Some(a.iter()), None),
            Amounts::Scaled(a, k) => {
                let p = POW10[*k as usize];
                (None, Some(a.iter().map(move |m| m.map(|m| m as f64 / p))))
            }
        };
        floats
            .into_iter()
            .flatten()
            .chain(counts.into_iter().flatten())
    }

    /// The amounts as an `f64` column (a copy when they are counts).
    pub fn to_float(&self) -> PolarsResult<Float64Chunked> {
        Ok(match self {
            Amounts::Float(a) => a.clone(),
            Amounts::Scaled(a, k) => {
                // (each count exact in f64, one correctly rounded division)
                let floats = a.cast(&DataType::Float64)?;
                (floats.f64()? / POW10[*k as usize]).with_name(FLOAT.into())
            }
        })
    }
}

/// `df` with its amounts as the `f64` column `amount` (for polars expressions that read
/// them): the frame itself when they are already.
pub fn with_float(df: &DataFrame) -> PolarsResult<DataFrame> {
    let Some(name) = column_name(df) else {
        return Ok(df.clone());
    };
    if name.as_str() == FLOAT {
        return Ok(df.clone());
    }
    let floats = Amounts::of(df)?.to_float()?;
    let mut out = df.clone();
    let at = out.get_column_index(&name).unwrap_or(0);
    let _ = out.drop_in_place(&name)?;
    out.insert_column(at, floats.into_column())?;
    Ok(out)
}

/// `df` as a lazy frame whose amounts are the `f64` column `amount` (computed in the
/// plan, by the same division, when they are counts).
pub fn lazy_with_float(df: &DataFrame) -> LazyFrame {
    let lf = df.clone().lazy();
    match column_name(df) {
        Some(name) if name.as_str() != FLOAT => {
            let k = decimals_of_name(&name).unwrap_or(0);
            lf.with_column((col(name.clone()).cast(DataType::Float64) / lit(pow10(k))).alias(FLOAT))
                .drop(by_name([name], true, false))
        }
        _ => lf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[Option<f64>]) -> Float64Chunked {
        Float64Chunked::from_iter_options("amount".into(), v.iter().copied())
    }

    fn back(a: &Amounts) -> Vec<Option<u64>> {
        a.iter().map(|v| v.map(f64::to_bits)).collect()
    }

    /// Every value read back is the value parsed, bit for bit, at the fewest decimals.
    #[test]
    fn counts_give_the_values_back_exactly() {
        let v = [
            Some(12.34),
            Some(-0.5),
            None,
            Some(0.0),
            Some(100.0),
            Some(0.1),
        ];
        let (c, k) = scale(&floats(&v)).unwrap();
        assert_eq!(k, 2);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [Some(1234), Some(-50), None, Some(0), Some(10000), Some(10)]
        );
        let bits: Vec<Option<u64>> = v.iter().map(|x| x.map(f64::to_bits)).collect();
        assert_eq!(back(&Amounts::Scaled(c, k)), bits);
        assert_eq!(scale(&floats(&[Some(3.0), Some(-7.0)])).unwrap().1, 0);
    }

    /// Values a count cannot give back stay `f64`: more decimals, too large, -0.0, NaN.
    #[test]
    fn what_does_not_fit_stays_float() {
        for bad in [1.234_567_8, 3.0e9, 2_200.000_001, -0.0, f64::NAN] {
            assert!(scale(&floats(&[Some(1.5), Some(bad)])).is_none(), "{bad}");
        }
        // Many decimals fit while the value is small.
        assert_eq!(scale(&floats(&[Some(1.000_001)])).unwrap().1, 6);
    }

    /// Chunks at different decimals stack at the most; one that cannot be multiplied up
    /// (or is `f64`) turns them all into `f64`, with the same values.
    #[test]
    fn stacked_chunks_share_one_scale() {
        let frame = |v: &[Option<f64>]| {
            let mut df = DataFrame::new(v.len(), vec![floats(v).into_column()]).unwrap();
            scale_frame(&mut df).unwrap();
            df
        };
        let mut two = vec![frame(&[Some(1.5)]), frame(&[Some(2.25), None])];
        unify(&mut two).unwrap();
        assert_eq!(column_name(&two[0]).unwrap().as_str(), "__amount_e2");
        assert_eq!(column_name(&two[1]).unwrap().as_str(), "__amount_e2");
        let mut all = two.remove(0);
        all.vstack_mut_owned(two.remove(0)).unwrap();
        assert_eq!(
            Amounts::of(&all).unwrap().iter().collect::<Vec<_>>(),
            [Some(1.5), Some(2.25), None]
        );
        // 2e9 fits as a count of 1, not of 0.01.
        let mut wide = vec![frame(&[Some(2e9)]), frame(&[Some(0.25)])];
        unify(&mut wide).unwrap();
        for df in &wide {
            assert_eq!(column_name(df).unwrap().as_str(), "amount");
        }
        assert_eq!(
            Amounts::of(&wide[0]).unwrap().iter().collect::<Vec<_>>(),
            [Some(2e9)]
        );
        let mut mixed = vec![frame(&[Some(1.0)]), frame(&[Some(1.234_567_8)])];
        unify(&mut mixed).unwrap();
        assert!(mixed.iter().all(|df| df.column("amount").is_ok()));
    }

    #[test]
    fn float_copy_agrees() {
        let v = [Some(1.25), Some(-3.5), Some(0.75)];
        let (c, k) = scale(&floats(&v)).unwrap();
        let a = Amounts::Scaled(c, k);
        let f: Vec<Option<f64>> = a.to_float().unwrap().iter().collect();
        assert_eq!(f, v);
    }
}
