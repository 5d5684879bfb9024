//! One interface over the continuous-time purchase-count models behind `ltv --model` and
//! `churn --at-risk --model`: BG/NBD, MBG/NBD and Pareto/NBD, all fitted on the same
//! per-customer summary (x, t_x, T) and scored the same way (p_alive, expected purchases,
//! CLV with Gamma-Gamma). Plain numerics: no frames, no I/O.

use anyhow::Result;

use super::bgbb::{self, Bgbb, BgbbFit};
use super::bgnbd::{self, BgNbdFit};
use super::gamma_gamma::GammaGammaParams;
use super::mbgnbd::{self, MbgNbdFit};
use super::pnbd::{self, ParetoNbdFit};
use super::se::{self, StandardErrors};
use super::{ClvOptions, CustomerScore, FitOptions, Rfm, Rows};

/// Which model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    BgNbd,
    MbgNbd,
    ParetoNbd,
    /// Discrete time: (x, t_x, T) count opportunities (x repeat transactions in T
    /// opportunities, the last at t_x).
    Bgbb,
}

impl Kind {
    /// The name used in flags, JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::BgNbd => "bgnbd",
            Kind::MbgNbd => "mbgnbd",
            Kind::ParetoNbd => "pnbd",
            Kind::Bgbb => "bgbb",
        }
    }

    /// The name as written in the literature.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BgNbd => "BG/NBD",
            Kind::MbgNbd => "MBG/NBD",
            Kind::ParetoNbd => "Pareto/NBD",
            Kind::Bgbb => "BG/BB",
        }
    }

    /// The continuous-time models (compared by `--model compare`).
    pub const ALL: [Kind; 3] = [Kind::BgNbd, Kind::MbgNbd, Kind::ParetoNbd];
}

/// A fitted purchase-count model.
#[derive(Debug, Clone)]
pub enum Fitted {
    BgNbd(BgNbdFit),
    MbgNbd(MbgNbdFit),
    ParetoNbd(ParetoNbdFit),
    Bgbb(BgbbFit),
}

/// A summary row as BG/BB data: T is the number of opportunities.
fn discrete(data: &[Rfm]) -> Vec<Bgbb> {
    data.iter().map(opportunities).collect()
}

/// One summary row as BG/BB data.
fn opportunities(d: &Rfm) -> Bgbb {
    Bgbb {
        x: d.x,
        t_x: d.t_x,
        n: d.t,
        weight: d.weight,
    }
}

impl Fitted {
    /// Fit `kind` by maximum likelihood.
    pub fn fit(kind: Kind, data: &[Rfm], opts: &FitOptions) -> Result<Fitted> {
        Fitted::fit_rows(kind, Rows::Any(data), opts)
    }

    /// [`Fitted::fit`] of rows given as they are or as distinct triples ([`Rows`]).
    pub fn fit_rows(kind: Kind, rows: Rows, opts: &FitOptions) -> Result<Fitted> {
        Ok(match kind {
            Kind::BgNbd => Fitted::BgNbd(bgnbd::fit_rows(rows, opts)?),
            Kind::MbgNbd => Fitted::MbgNbd(mbgnbd::fit_rows(rows, opts)?),
            Kind::ParetoNbd => Fitted::ParetoNbd(pnbd::fit_rows(rows, opts)?),
            Kind::Bgbb => Fitted::Bgbb(bgbb::fit(&discrete(rows.rows()), opts)?),
        })
    }

    /// [`Fitted::fit`] of `rows` through their distinct histories (`distinct`, from
    /// [`super::group_with_index`]: the same groups, in the same order, with the same
    /// weights, so the same fit). An error is that of fitting the rows themselves: a bad
    /// row is named by its position among them (the fit's own row check, run on the rows
    /// only when the fit failed; every other error is the same either way).
    pub fn fit_grouped(
        kind: Kind,
        rows: &[Rfm],
        distinct: &[Rfm],
        opts: &FitOptions,
    ) -> Result<Fitted> {
        Fitted::fit_rows(kind, Rows::Distinct(distinct), opts).or_else(|e| {
            for (i, d) in rows.iter().enumerate() {
                match kind {
                    Kind::BgNbd => bgnbd::check_row(i, d)?,
                    Kind::MbgNbd | Kind::ParetoNbd => bgnbd::check_row(i, d)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", kind.label()))?,
                    Kind::Bgbb => bgbb::check_row(i, &opportunities(d))?,
                }
            }
            Err(e)
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Fitted::BgNbd(_) => Kind::BgNbd,
            Fitted::MbgNbd(_) => Kind::MbgNbd,
            Fitted::ParetoNbd(_) => Kind::ParetoNbd,
            Fitted::Bgbb(_) => Kind::Bgbb,
        }
    }

    /// The parameters by their usual names, in the model's order.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match self {
            Fitted::BgNbd(f) => {
                let p = f.params;
                vec![("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)]
            }
            Fitted::MbgNbd(f) => {
                let p = f.params;
                vec![("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)]
            }
            Fitted::ParetoNbd(f) => {
                let p = f.params;
                vec![("r", p.r), ("alpha", p.alpha), ("s", p.s), ("beta", p.beta)]
            }
            Fitted::Bgbb(f) => {
                let p = f.params;
                vec![
                    ("alpha", p.alpha),
                    ("beta", p.beta),
                    ("gamma", p.gamma),
                    ("delta", p.delta),
                ]
            }
        }
    }

    /// The same model with other parameters (in the order of [`Fitted::params`]), for
    /// parameter draws; the fit's statistics are kept as they were.
    pub fn with_params(&self, p: &[f64]) -> Fitted {
        let g = |i: usize| p.get(i).copied().unwrap_or(f64::NAN);
        match self {
            Fitted::BgNbd(f) => {
                let mut f = f.clone();
                f.params = bgnbd::BgNbdParams {
                    r: g(0),
                    alpha: g(1),
                    a: g(2),
                    b: g(3),
                };
                Fitted::BgNbd(f)
            }
            Fitted::MbgNbd(f) => {
                let mut f = f.clone();
                f.params = mbgnbd::MbgNbdParams {
                    r: g(0),
                    alpha: g(1),
                    a: g(2),
                    b: g(3),
                };
                Fitted::MbgNbd(f)
            }
            Fitted::ParetoNbd(f) => {
                let mut f = f.clone();
                f.params = pnbd::ParetoNbdParams {
                    r: g(0),
                    alpha: g(1),
                    s: g(2),
                    beta: g(3),
                };
                Fitted::ParetoNbd(f)
            }
            Fitted::Bgbb(f) => {
                let mut f = f.clone();
                f.params = bgbb::BgbbParams {
                    alpha: g(0),
                    beta: g(1),
                    gamma: g(2),
                    delta: g(3),
                };
                Fitted::Bgbb(f)
            }
        }
    }

    /// Σ ln L over the customers (weights included, no penalty).
    pub fn log_likelihood(&self) -> f64 {
        match self {
            Fitted::BgNbd(f) => f.log_likelihood,
            Fitted::MbgNbd(f) => f.log_likelihood,
            Fitted::ParetoNbd(f) => f.log_likelihood,
            Fitted::Bgbb(f) => f.log_likelihood,
        }
    }

    pub fn iterations(&self) -> u64 {
        match self {
            Fitted::BgNbd(f) => f.iterations,
            Fitted::MbgNbd(f) => f.iterations,
            Fitted::ParetoNbd(f) => f.iterations,
            Fitted::Bgbb(f) => f.iterations,
        }
    }

    /// Distinct (x, t_x, T) triples the likelihood was evaluated on.
    pub fn groups(&self) -> usize {
        match self {
            Fitted::BgNbd(f) => f.n_groups,
            Fitted::MbgNbd(f) => f.n_groups,
            Fitted::ParetoNbd(f) => f.n_groups,
            Fitted::Bgbb(f) => f.n_groups,
        }
    }

    /// Standard errors from the observed information at the optimum (natural parameters,
    /// the order of [`Fitted::params`]).
    pub fn standard_errors(&self, rows: Rows) -> Result<StandardErrors> {
        match self {
            Fitted::BgNbd(f) => se::bgnbd(&f.params, rows),
            Fitted::MbgNbd(f) => se::mbgnbd(&f.params, rows),
            Fitted::ParetoNbd(f) => se::pnbd(&f.params, rows),
            Fitted::Bgbb(f) => se::bgbb(&f.params, &discrete(rows.rows())),
        }
    }

    /// P(alive at T | x, t_x, T).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        match self {
            Fitted::BgNbd(f) => f.params.p_alive(x, t_x, t),
            Fitted::MbgNbd(f) => f.params.p_alive(x, t_x, t),
            Fitted::ParetoNbd(f) => f.params.p_alive(x, t_x, t),
            Fitted::Bgbb(f) => f.params.p_alive(x, t_x, t),
        }
    }

    /// E[purchases in (T, T + t] | x, t_x, T].
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, big_t: f64) -> f64 {
        match self {
            Fitted::BgNbd(f) => f.params.expected_purchases(t, x, t_x, big_t),
            Fitted::MbgNbd(f) => f.params.expected_purchases(t, x, t_x, big_t),
            Fitted::ParetoNbd(f) => f.params.expected_purchases(t, x, t_x, big_t),
            Fitted::Bgbb(f) => f.params.expected_purchases(t, x, t_x, big_t),
        }
    }

    /// E[purchases in (T, T + t] | alive at T, x, T].
    /// The CLV's discounted expected purchases of a customer alive at T (BG/NBD, MBG/NBD
    /// and Pareto/NBD; they depend on (x, T) only): over `clv.months` steps, step i's
    /// purchases discounted by (1 + rate)^i. BG/NBD and MBG/NBD take every step's 2F1 from
    /// one series ([`super::discounted_2f1_steps`]); Pareto/NBD sums its own expected
    /// purchases step by step.
    fn discounted_if_alive(&self, x: f64, big_t: f64, clv: &ClvOptions) -> f64 {
        match self {
            Fitted::BgNbd(f) => super::discounted_purchases_if_alive(&f.params, x, big_t, clv),
            Fitted::MbgNbd(f) => f.params.discounted_purchases_if_alive(x, big_t, clv),
            Fitted::ParetoNbd(_) | Fitted::Bgbb(_) => {
                let (mut total, mut prev, mut factor) = (0.0, 0.0, 1.0);
                for i in 1..=clv.months {
                    let cur = self.expected_if_alive(clv.step * f64::from(i), x, big_t);
                    factor /= 1.0 + clv.discount_rate;
                    total += (cur - prev) * factor;
                    prev = cur;
                }
                total
            }
        }
    }

    fn expected_if_alive(&self, t: f64, x: f64, big_t: f64) -> f64 {
        match self {
            Fitted::BgNbd(f) => f.params.expected_purchases_if_alive(t, x, big_t),
            Fitted::MbgNbd(f) => f.params.expected_purchases_if_alive(t, x, big_t),
            Fitted::ParetoNbd(f) => f.params.expected_purchases_if_alive(t, x, big_t),
            // BG/BB's CLV is summed from its conditional expectations (see `score`).
            Fitted::Bgbb(_) => f64::NAN,
        }
    }

    /// Score every customer: p_alive, expected purchases in the next `horizon` units and,
    /// with a Gamma-Gamma model, expected average value and CLV (the lifetimes convention
    /// of [`super::customer_lifetime_value`], with this model's expected purchases).
    pub fn score(
        &self,
        gg: Option<&GammaGammaParams>,
        customers: &[Rfm],
        monetary: &[f64],
        horizon: f64,
        clv: &ClvOptions,
    ) -> Result<Vec<CustomerScore>> {
        let (distinct, which) = super::group_with_index(customers);
        self.score_grouped(gg, customers, &distinct, &which, monetary, horizon, clv)
    }

    /// [`Fitted::score`] of customers already grouped by history: `distinct` their
    /// distinct (x, t_x, T) and `which[i]` the history of `customers[i]`
    /// ([`super::group_with_index`]). Every count, and the CLV but for the customer's own
    /// expected value, depends on the history only: computed once per history (the
    /// expensive part, in parallel), then spread to the customers.
    #[allow(clippy::too_many_arguments)]
    pub fn score_grouped(
        &self,
        gg: Option<&GammaGammaParams>,
        customers: &[Rfm],
        distinct: &[Rfm],
        which: &[u32],
        monetary: &[f64],
        horizon: f64,
        clv: &ClvOptions,
    ) -> Result<Vec<CustomerScore>> {
        let per = self.score_histories(distinct, gg.is_some(), horizon, clv);
        spread_scores(self.kind(), &per, gg, customers, which, monetary, clv)
    }

    /// [`Fitted::score_grouped`] kept by history ([`Scores`]): the histories scored now,
    /// each customer's own scores made when asked for.
    pub fn scores(
        &self,
        gg: Option<&GammaGammaParams>,
        distinct: &[Rfm],
        which: Vec<u32>,
        horizon: f64,
        clv: &ClvOptions,
    ) -> Scores {
        Scores {
            kind: self.kind(),
            per: self.score_histories(distinct, gg.is_some(), horizon, clv),
            which,
            gg: gg.copied(),
            margin: clv.margin,
        }
    }

    /// Per distinct history: p_alive, the expected purchases over `horizon`, and (with
    /// `discount`) the discounted expected purchases of the CLV: for BG/BB over each future
    /// opportunity, for the others those of a customer alive at T (depending on (x, T)
    /// only: computed once per pair), to be multiplied by p_alive.
    fn score_histories(
        &self,
        distinct: &[Rfm],
        discount: bool,
        horizon: f64,
        clv: &ClvOptions,
    ) -> Vec<HistoryScore> {
        use rayon::prelude::*;
        if let Fitted::Bgbb(f) = self {
            let n_star = horizon.round().max(1.0);
            let steps = n_star as u32;
            let d = discrete(distinct);
            let counts = bgbb::score_distinct(&f.params, &d, n_star);
            return d
                .par_iter()
                .zip(counts.par_iter())
                .with_min_len(16)
                .map(|(c, s)| HistoryScore {
                    p_alive: s.p_alive,
                    expected_purchases: s.expected_purchases,
                    discounted: if discount {
                        f.params.weighted_purchases(steps, c.x, c.t_x, c.n, |k| {
                            (1.0 + clv.discount_rate).powf(-f64::from(k) / clv.step)
                        })
                    } else {
                        f64::NAN
                    },
                })
                .collect();
        }
        if let Fitted::BgNbd(f) = self {
            return super::bgnbd_histories(&f.params, distinct, discount, horizon, clv);
        }
        let (pairs, pair_of) = super::pair_index(distinct, |c| c.t);
        let counts = match self {
            Fitted::MbgNbd(f) => mbgnbd::score(&f.params, distinct, horizon),
            Fitted::ParetoNbd(f) => pnbd::score(&f.params, distinct, horizon),
            Fitted::BgNbd(_) | Fitted::Bgbb(_) => Vec::new(),
        };
        let per_pair: Vec<f64> = if discount {
            pairs
                .par_iter()
                .map(|&(x, t)| self.discounted_if_alive(x, t, clv))
                .collect()
        } else {
            vec![f64::NAN; pairs.len()]
        };
        counts
            .iter()
            .zip(&pair_of)
            .map(|(s, &k)| HistoryScore {
                p_alive: s.p_alive,
                expected_purchases: s.expected_purchases,
                discounted: per_pair[k],
            })
            .collect()
    }
}

/// A distinct history's scores ([`Fitted::score_histories`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HistoryScore {
    pub p_alive: f64,
    pub expected_purchases: f64,
    /// The CLV per unit of margin × expected value (BG/NBD, MBG/NBD, Pareto/NBD: per
    /// unit of p_alive too).
    pub discounted: f64,
}

/// Each customer's scores from its history's (`per[which[i]]`), with its own expected
/// value (Gamma-Gamma on its x and m = `monetary[i]`) in the CLV.
pub(crate) fn spread_scores(
    kind: Kind,
    per: &[HistoryScore],
    gg: Option<&GammaGammaParams>,
    customers: &[Rfm],
    which: &[u32],
    monetary: &[f64],
    clv: &ClvOptions,
) -> Result<Vec<CustomerScore>> {
    use rayon::prelude::*;
    if gg.is_some() && monetary.len() != customers.len() {
        anyhow::bail!(
            "{} monetary values for {} customers",
            monetary.len(),
            customers.len()
        );
    }
    if which.len() != customers.len() {
        anyhow::bail!(
            "{} history indexes for {} customers",
            which.len(),
            customers.len()
        );
    }
    Ok(customers
        .par_iter()
        .zip(which.par_iter())
        .enumerate()
        .with_min_len(4096)
        .map(|(i, (c, &k))| {
            let m = if gg.is_some() { monetary[i] } else { f64::NAN };
            customer_score(kind, per[k as usize], gg, c.x, m, clv.margin)
        })
        .collect())
}

/// One customer's scores from its history's `h`, with its own expected value (from its
/// frequency `x` and mean repeat value `m`) in the CLV when there is a spend model.
fn customer_score(
    kind: Kind,
    h: HistoryScore,
    gg: Option<&GammaGammaParams>,
    x: f64,
    m: f64,
    margin: f64,
) -> CustomerScore {
    let (ev, value) = match gg {
        Some(g) => {
            let ev = g.conditional_expected_average_profit(x, m);
            // (each model's own order of the product: the same numbers as when it
            // was computed per customer)
            let v = match kind {
                Kind::BgNbd => margin * ev * (h.p_alive * h.discounted),
                Kind::MbgNbd | Kind::ParetoNbd => margin * ev * h.p_alive * h.discounted,
                Kind::Bgbb => margin * ev * h.discounted,
            };
            (ev, v)
        }
        None => (f64::NAN, f64::NAN),
    };
    CustomerScore {
        p_alive: h.p_alive,
        expected_purchases: h.expected_purchases,
        expected_average_value: ev,
        clv: value,
    }
}

/// Every customer's scores, held as those of the distinct histories and each customer's
/// history: a customer's own ([`Scores::get`]) is made when asked for, with the same
/// arithmetic as [`Fitted::score_grouped`], so that a million scored customers do not
/// hold a million rows of scores (32 bytes each) that a summary only adds up.
pub struct Scores {
    kind: Kind,
    per: Vec<HistoryScore>,
    which: Vec<u32>,
    gg: Option<GammaGammaParams>,
    margin: f64,
}

impl Scores {
    /// Customer `i`'s scores, given its frequency `x` and mean repeat value `m` (read only
    /// with a spend model).
    pub fn get(&self, i: usize, x: f64, m: f64) -> CustomerScore {
        customer_score(
            self.kind,
            self.per[self.which[i] as usize],
            self.gg.as_ref(),
            x,
            m,
            self.margin,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::customer_lifetime_value;

    /// The CDNOW sample summary (weeks), grouped, from lifetimes (tests/reference).
    fn data() -> Vec<Rfm> {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/reference/models_cdnow.json")).unwrap();
        let s = &v["summary"];
        let col = |k: &str| -> Vec<f64> {
            s[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (x, t_x, t, w) = (col("x"), col("t_x"), col("T"), col("weight"));
        (0..x.len())
            .map(|i| Rfm {
                x: x[i],
                t_x: t_x[i],
                t: t[i],
                weight: w[i],
            })
            .collect()
    }

    #[test]
    fn bgnbd_scores_as_before_and_others_by_their_own_expectations() {
        let d = data();
        let opts = FitOptions::default();
        let gg = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        let clv = ClvOptions {
            step: 30.0 / 7.0,
            ..ClvOptions::default()
        };
        let monetary = vec![20.0; d.len()];
        for kind in Kind::ALL {
            let f = Fitted::fit(kind, &d, &opts).unwrap();
            assert_eq!(f.kind(), kind);
            let s = f.score(Some(&gg), &d, &monetary, 52.0, &clv).unwrap();
            for (c, sc) in d.iter().zip(&s).step_by(17) {
                let want = f.expected_purchases(52.0, c.x, c.t_x, c.t);
                assert!((sc.expected_purchases - want).abs() < 1e-9 * want.max(1.0));
                assert!((sc.p_alive - f.p_alive(c.x, c.t_x, c.t)).abs() < 1e-12);
                // CLV from the month-by-month differences of expected purchases.
                let (mut total, mut prev, mut disc) = (0.0, 0.0, 1.0);
                for i in 1..=12 {
                    let cur = f.expected_purchases(clv.step * i as f64, c.x, c.t_x, c.t);
                    disc /= 1.01;
                    total += (cur - prev) * disc;
                    prev = cur;
                }
                let want = total * gg.conditional_expected_average_profit(c.x, 20.0);
                assert!((sc.clv - want).abs() < 1e-8 * want.max(1.0), "{kind:?}");
                if let Fitted::BgNbd(b) = &f {
                    let old = customer_lifetime_value(&b.params, &gg, *c, 20.0, &clv);
                    assert!((sc.clv - old).abs() < 1e-12 * old.max(1.0));
                }
            }
            let se = f.standard_errors(Rows::Any(&d)).unwrap();
            assert_eq!(se.se.len(), 4);
            assert!(se.se.iter().all(|v| v.is_finite() && *v > 0.0));
        }
    }
}
