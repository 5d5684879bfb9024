//! BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"),
//! fitted by maximum likelihood as in lifetimes 0.11.3's `BetaGeoFitter`.
//!
//! lifetimes conventions kept here, so that numbers compare:
//! * the fit runs on time scaled so that max T = 1 (α is scaled back afterwards), on
//!   log parameters, minimising the *mean* negative log-likelihood per customer plus
//!   `penalizer · (r² + α_scaled² + a² + b²)`, started at log parameters 0.1;
//! * lifetimes' `_negative_log_likelihood_` is that objective at the optimum
//!   ([`BgNbdFit::lifetimes_negative_log_likelihood`]); the plain log-likelihood of the
//!   data in its own time unit, summed over customers, is [`BgNbdFit::log_likelihood`].
//!   They differ by the time scaling (Σ x · ln max T), the mean and the penalty.

use anyhow::{anyhow, bail, Result};

use super::special::{digamma, hyp2f1_log, ln_gamma};
use super::{FitOptions, Rfm, Rows, ValueIndex};

/// BG/NBD parameters; α is in the data's time unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, PartialEq)]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    /// Σ over customers (weights included) of ln L(r, α, a, b | x, t_x, T), times in the
    /// data's unit, without the penalty.
    pub log_likelihood: f64,
    /// lifetimes' `BetaGeoFitter._negative_log_likelihood_`: the mean negative
    /// log-likelihood per customer on time scaled to max T = 1, plus the penalty.
    pub lifetimes_negative_log_likelihood: f64,
    /// Optimiser iterations (L-BFGS; with more than 20,000 distinct triples, those of
    /// the warm start on a sample of them included).
    pub iterations: u64,
    /// Always true for a returned fit: a fit that does not converge is an error.
    pub converged: bool,
    /// Norm of the objective's gradient (on log parameters) at the optimum.
    pub grad_norm: f64,
    /// Number of customers (sum of weights).
    pub n_customers: f64,
    /// Number of distinct (x, t_x, T) triples the likelihood was evaluated on.
    pub n_groups: usize,
}

/// Check one summary row; `what` names it in errors.
pub(crate) fn check_row(i: usize, d: &Rfm) -> Result<()> {
    if !(d.x.is_finite() && d.t_x.is_finite() && d.t.is_finite() && d.weight.is_finite()) {
        bail!(
            "customer {i}: non-finite value (x = {}, t_x = {}, T = {}, weight = {})",
            d.x,
            d.t_x,
            d.t,
            d.weight
        );
    }
    if d.weight < 0.0 {
        bail!("customer {i}: negative weight {}", d.weight);
    }
    if d.x < 0.0 || d.x.fract() != 0.0 {
        bail!(
            "customer {i}: the number of repeat purchases x = {} is not a non-negative integer",
            d.x
        );
    }
    if d.t_x < 0.0 || d.t < 0.0 {
        bail!("customer {i}: negative time (t_x = {}, T = {})", d.t_x, d.t);
    }
    if d.t_x > d.t {
        bail!(
            "customer {i}: recency t_x = {} is larger than the age T = {}",
            d.t_x,
            d.t
        );
    }
    if d.x == 0.0 && d.t_x != 0.0 {
        bail!(
            "customer {i}: t_x = {} is not 0 although there is no repeat purchase",
            d.t_x
        );
    }
    Ok(())
}

/// Rows prepared for the likelihood: times scaled; x, T and t_x replaced by indexes into
/// their distinct values, so that the logs of α + T and α + t_x are taken once per
/// distinct value per evaluation; customers with x = 0 folded into weights per T.
struct Prepared {
    /// customers with x > 0
    rows: Vec<Row>,
    /// distinct x values (0 included) and the total weight of each
    xs: Vec<f64>,
    wx: Vec<f64>,
    /// distinct (scaled) T values, and the weight of the x = 0 customers at each
    ts: Vec<f64>,
    zero_w: Vec<f64>,
    /// distinct (scaled) t_x values of the customers with x > 0
    txs: Vec<f64>,
    total_w: f64,
    /// Σ w·x (for converting between scaled and unscaled log-likelihoods)
    sum_wx: f64,
}

#[derive(Clone, Copy)]
struct Row {
    w: f64,
    ix: u32,
    it: u32,
    itx: u32,
}

impl Prepared {
    fn new(data: &[Rfm], scale: f64) -> Self {
        let (mut xi, mut ti, mut txi) = (
            ValueIndex::default(),
            ValueIndex::default(),
            ValueIndex::default(),
        );
        let mut wx: Vec<f64> = Vec::new();
        let mut zero_w: Vec<f64> = Vec::new();
        let mut rows = Vec::with_capacity(data.len());
        let mut total_w = 0.0;
        let mut sum_wx = 0.0;
        for d in data {
            let ix = xi.index(d.x);
            let it = ti.index(d.t * scale);
            wx.resize(xi.values.len(), 0.0);
            zero_w.resize(ti.values.len(), 0.0);
            wx[ix as usize] += d.weight;
            total_w += d.weight;
            sum_wx += d.weight * d.x;
            if d.x > 0.0 {
                rows.push(Row {
                    w: d.weight,
                    ix,
                    it,
                    itx: txi.index(d.t_x * scale),
                });
            } else {
                zero_w[it as usize] += d.weight;
            }
        }
        Prepared {
            rows,
            xs: xi.values,
            wx,
            ts: ti.values,
            zero_w,
            txs: txi.values,
            total_w,
            sum_wx,
        }
    }

    /// Σ w ln L and its gradient with respect to (ln r, ln α, ln a, ln b).
    fn log_likelihood_and_grad(&self, p: &BgNbdParams) -> (f64, [f64; 4]) {
        let BgNbdParams { r, alpha, a, b } = *p;
        let ln_alpha = alpha.ln();
        let ln_a = a.ln();
        // per distinct x: the parts of ln L and of its gradient that depend on x only
        let n = self.xs.len();
        let mut ln_ab_x = vec![0.0; n];
        let mut inv_bx = vec![0.0; n];
        let mut ll = 0.0;
        let (mut gr, mut ga, mut gb) = (0.0, 0.0, 0.0);
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
        for (k, (&x, &w)) in self.xs.iter().zip(&self.wx).enumerate() {
            let c1 = ln_gamma(r + x) - lg_r + lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
            let dg_abx = digamma(a + b + x);
            ll += w * c1;
            gr += w * (digamma(r + x) - dg_r);
            ga += w * (dg_ab - dg_abx);
            gb += w * (dg_ab + digamma(b + x) - dg_b - dg_abx);
            if x > 0.0 {
                ln_ab_x[k] = ln_a - (b + x - 1.0).ln();
                inv_bx[k] = 1.0 / (b + x - 1.0);
            }
        }
        let w_all = self.total_w;
        ll += w_all * r * ln_alpha;
        gr += w_all * ln_alpha;
        let mut galpha = w_all * r / alpha;

        let ln_at: Vec<f64> = self.ts.iter().map(|t| (alpha + t).ln()).collect();
        let inv_at: Vec<f64> = self.ts.iter().map(|t| 1.0 / (alpha + t)).collect();
        let ln_atx: Vec<f64> = self.txs.iter().map(|t| (alpha + t).ln()).collect();
        let inv_atx: Vec<f64> = self.txs.iter().map(|t| 1.0 / (alpha + t)).collect();
        let mut acc = [0.0; 5];
        // x = 0: ln L's last term is −r ln(α + T)
        for k in 0..self.ts.len() {
            let w = self.zero_w[k];
            acc[0] -= w * r * ln_at[k];
            acc[1] += w * ln_at[k];
            acc[2] += w * r * inv_at[k];
        }
        // x > 0: the log-sum-exp of the "alive at T" and "dropped out after t_x" terms
        let row_part = |rows: &[Row]| -> [f64; 5] {
            let mut acc = [0.0; 5];
            for row in rows {
                let (ix, it, itx) = (row.ix as usize, row.it as usize, row.itx as usize);
                let rx = r + self.xs[ix];
                let l3 = -rx * ln_at[it];
                let l4 = ln_ab_x[ix] - rx * ln_atx[itx];
                let d = l4 - l3;
                let e = (-d.abs()).exp();
                let inv = 1.0 / (1.0 + e);
                let (hi, lo) = (inv, e * inv);
                let pos = d > 0.0;
                let w3 = if pos { lo } else { hi };
                let w4 = if pos { hi } else { lo };
                acc[0] += row.w * (l3.max(l4) + (1.0 + e).ln());
                acc[1] += row.w * (w3 * ln_at[it] + w4 * ln_atx[itx]);
                acc[2] += row.w * rx * (w3 * inv_at[it] + w4 * inv_atx[itx]);
                acc[3] += row.w * w4;
                acc[4] += row.w * w4 * inv_bx[ix];
            }
            acc
        };
        let part = if self.rows.len() < 50_000 {
            row_part(&self.rows)
        } else {
            // In a fixed tree (not rayon's reduce, whose tree follows the work stealing):
            // the same fit on every run.
            super::par_chunk_sum(&self.rows, 16_384, &row_part, &|mut u, v| {
                for k in 0..5 {
                    u[k] += v[k];
                }
                u
            })
        };
        for k in 0..5 {
            acc[k] += part[k];
        }
        ll += acc[0];
        gr -= acc[1];
        galpha -= acc[2];
        ga += acc[3] / a;
        gb -= acc[4];
        (ll, [gr * r, galpha * alpha, ga * a, gb * b])
    }
}

/// Σ (weights included) of the BG/NBD log-likelihood of `data` at `params`, times in
/// the data's unit. Rows are not validated here.
pub fn log_likelihood(params: &BgNbdParams, data: &[Rfm]) -> f64 {
    Prepared::new(data, 1.0).log_likelihood_and_grad(params).0
}

/// The gradient of [`log_likelihood`] with respect to the natural parameters (r, α, a, b)
/// (analytic), the data grouped and prepared once: for the Hessian of the standard errors.
pub fn gradient_fn(data: &[Rfm]) -> impl Fn(&BgNbdParams) -> [f64; 4] {
    let prep = Prepared::new(data, 1.0);
    move |p| {
        let (_, g) = prep.log_likelihood_and_grad(p);
        [g[0] / p.r, g[1] / p.alpha, g[2] / p.a, g[3] / p.b]
    }
}

/// Fit the BG/NBD model by maximum likelihood. Rows with identical (x, t_x, T) are
/// grouped first. Errors (never panics) on empty or invalid data, when nobody made a
/// repeat purchase, when the optimiser does not converge, and when a parameter runs off
/// to 0 or ∞ (the data do not identify the model; a penalizer may help).
pub fn fit(data: &[Rfm], opts: &FitOptions) -> Result<BgNbdFit> {
    fit_rows(Rows::Any(data), opts)
}

/// [`fit`] of rows given as they are or as distinct triples ([`Rows`]).
pub fn fit_rows(rows: Rows, opts: &FitOptions) -> Result<BgNbdFit> {
    opts.validate()?;
    let (grouped, total_w, max_t) = super::prepare_counts_with("BG/NBD", rows, check_row)?;
    let scale = 1.0 / max_t;
    let prep = Prepared::new(&grouped, scale);
    let pen = opts.penalizer;
    // Warm start for big inputs: a systematic sample of the distinct triples first
    // (cheap), then all of them from there.
    let sp = super::warm_start_sample(&grouped).map(|sub| Prepared::new(&sub, scale));
    let opt = super::fit_warm(
        4,
        &prep,
        sp.as_ref(),
        |p, th| objective(p, pen, th),
        opts,
        super::all_bounded,
    )
    .map_err(|e| anyhow!("BG/NBD: {e}"))?;
    let names = ["r", "alpha (scaled to max T = 1)", "a", "b"];
    for (name, &v) in names.iter().zip(&opt.log_params) {
        if v.abs() > 1e5f64.ln() {
            bail!(
                "BG/NBD: the data do not identify the model: {name} runs off to {:.3e}; a penalizer coefficient (e.g. 0.001) may help",
                v.exp()
            );
        }
    }
    let th = &opt.log_params;
    let params = BgNbdParams {
        r: th[0].exp(),
        alpha: th[1].exp() * max_t,
        a: th[2].exp(),
        b: th[3].exp(),
    };
    // scaled and unscaled log-likelihoods differ by Σ w·x·ln(max T)
    let ll_scaled = prep
        .log_likelihood_and_grad(&BgNbdParams {
            alpha: th[1].exp(),
            ..params
        })
        .0;
    Ok(BgNbdFit {
        params,
        log_likelihood: ll_scaled - prep.sum_wx * max_t.ln(),
        lifetimes_negative_log_likelihood: opt.objective,
        iterations: opt.iterations,
        converged: true,
        grad_norm: opt.grad_norm,
        n_customers: total_w,
        n_groups: grouped.len(),
    })
}

/// lifetimes' objective on log parameters (time scaled to max T = 1): the mean negative
/// log-likelihood per customer plus the penalty, and its gradient.
fn objective(prep: &Prepared, pen: f64, theta: &[f64]) -> (f64, Vec<f64>) {
    let p = BgNbdParams {
        r: theta[0].exp(),
        alpha: theta[1].exp(),
        a: theta[2].exp(),
        b: theta[3].exp(),
    };
    let (ll, g) = prep.log_likelihood_and_grad(&p);
    let ps = [p.r, p.alpha, p.a, p.b];
    let w = prep.total_w;
    let value = -ll / w + pen * ps.iter().map(|v| v * v).sum::<f64>();
    let grad = (0..4)
        .map(|k| -g[k] / w + 2.0 * pen * ps[k] * ps[k])
        .collect();
    (value, grad)
}

impl BgNbdParams {
    /// ln of the "alive" odds divisor: p_alive = 1 / (1 + exp(this)); −∞ when x = 0.
    fn log_div(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x <= 0.0 {
            return f64::NEG_INFINITY;
        }
        (self.r + x) * ((self.alpha + t).ln() - (self.alpha + t_x).ln())
            + (self.a / (self.b + x - 1.0)).ln()
    }

    /// P(alive | x, t_x, T) (lifetimes `conditional_probability_alive`); 1 when x = 0.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        let d = self.log_div(x, t_x, t);
        if d > 0.0 {
            let e = (-d).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + d.exp())
        }
    }

    /// Expected number of purchases in the next `t` time units of a customer with
    /// history (x, t_x, T) (lifetimes `conditional_expected_number_of_purchases_up_to_time`,
    /// equation 10 of the BG/NBD paper). NaN for invalid input or when 2F1 cannot be
    /// evaluated. Equal to `p_alive(x, t_x, T) · expected_purchases_if_alive(t, x, T)`.
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, big_t: f64) -> f64 {
        self.expected_purchases_if_alive(t, x, big_t) * self.p_alive(x, t_x, big_t)
    }

    /// Expected number of purchases in the next `t` time units of a customer with x
    /// repeat purchases and age T who is still alive at T: (a+b+x−1)/(a−1) ·
    /// [1 − 2F1(r+x, b+x; a+b+x−1; t/(α+T+t)) · ((α+T)/(α+T+t))^(r+x)]. It does not
    /// depend on t_x, so scoring can share it between customers with the same (x, T).
    pub fn expected_purchases_if_alive(&self, t: f64, x: f64, big_t: f64) -> f64 {
        if !(t >= 0.0 && t.is_finite()) {
            return f64::NAN;
        }
        if t == 0.0 {
            return 0.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let rx = r + x;
        let c = a + b + x - 1.0;
        let z = t / (alpha + big_t + t);
        let Some(h) = hyp2f1_log(rx, b + x, c, z) else {
            return f64::NAN;
        };
        let ln_term = h.ln_abs + rx * ((alpha + big_t).ln() - (alpha + big_t + t).ln());
        // 1 − 2F1 · ((α+T)/(α+T+t))^(r+x), accurately when the product is close to 1
        let second = if h.sign > 0.0 {
            -ln_term.exp_m1()
        } else {
            1.0 + ln_term.exp()
        };
        c / (a - 1.0) * second
    }

    /// Expected number of repeat purchases in (0, t] of a new customer (lifetimes
    /// `expected_number_of_purchases_up_to_time`, equation 9 of the paper).
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        if !(t >= 0.0 && t.is_finite()) {
            return f64::NAN;
        }
        if t == 0.0 {
            return 0.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let Some(h) = hyp2f1_log(r, b, a + b - 1.0, t / (alpha + t)) else {
            return f64::NAN;
        };
        let ln_term = h.ln_abs + r * (alpha.ln() - (alpha + t).ln());
        let second = if h.sign > 0.0 {
            -ln_term.exp_m1()
        } else {
            1.0 + ln_term.exp()
        };
        (a + b - 1.0) / (a - 1.0) * second
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::gamma_gamma::{self, GammaGammaParams};
    use crate::models::{customer_lifetime_value, ClvOptions};
    use serde::Deserialize;

    fn rel(a: f64, b: f64) -> f64 {
        if b == 0.0 {
            a.abs()
        } else {
            ((a - b) / b).abs()
        }
    }

    // The paper's CDNOW estimates (weeks): r = 0.243, α = 4.414, a = 0.793, b = 2.426.
    const CDNOW: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn p_alive_limits() {
        assert_eq!(CDNOW.p_alive(0.0, 0.0, 38.0), 1.0);
        // last purchase at the end of the period: p_alive = 1 / (1 + a/(b+x−1))
        let x = 3.0;
        let want = 1.0 / (1.0 + CDNOW.a / (CDNOW.b + x - 1.0));
        assert!(rel(CDNOW.p_alive(x, 30.0, 30.0), want) < 1e-15);
        // decreasing in T, increasing in t_x
        assert!(CDNOW.p_alive(2.0, 10.0, 40.0) < CDNOW.p_alive(2.0, 10.0, 20.0));
        assert!(CDNOW.p_alive(2.0, 5.0, 40.0) < CDNOW.p_alive(2.0, 30.0, 40.0));
        // no overflow far out
        let p = CDNOW.p_alive(500.0, 1.0, 1e6);
        assert!((0.0..1e-300).contains(&p));
    }

    #[test]
    fn expected_purchases_limits() {
        assert_eq!(CDNOW.expected_purchases(0.0, 2.0, 10.0, 30.0), 0.0);
        assert_eq!(CDNOW.expected_purchases_new(0.0), 0.0);
        assert!(CDNOW.expected_purchases(-1.0, 2.0, 10.0, 30.0).is_nan());
        // small t: rate ≈ p_alive · E[λ | data] = p_alive · (r+x)/(α+T)
        let (x, tx, tt) = (2.0, 20.0, 30.0);
        let h = 1e-6;
        let want = CDNOW.p_alive(x, tx, tt) * (CDNOW.r + x) / (CDNOW.alpha + tt) * h;
        assert!(rel(CDNOW.expected_purchases(h, x, tx, tt), want) < 1e-5);
        // new customer: E[X(t)] ≈ r/α · t for small t
        let want = CDNOW.r / CDNOW.alpha * h;
        assert!(rel(CDNOW.expected_purchases_new(h), want) < 1e-5);
        // increasing in t
        let mut prev = 0.0;
        for k in 1..50 {
            let v = CDNOW.expected_purchases(k as f64 * 5.0, x, tx, tt);
            assert!(v > prev);
            prev = v;
        }
        // a customer seen for 0 time is a new customer
        for t in [1.0, 10.0, 39.0, 78.0] {
            assert!(
                rel(
                    CDNOW.expected_purchases(t, 0.0, 0.0, 0.0),
                    CDNOW.expected_purchases_new(t)
                ) < 1e-12
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = vec![
            Rfm::new(0.0, 0.0, 30.0),
            Rfm::new(2.0, 10.0, 30.0),
            Rfm {
                x: 5.0,
                t_x: 25.5,
                t: 38.0,
                weight: 3.0,
            },
            Rfm::new(1.0, 2.0, 12.0),
            Rfm::new(0.0, 0.0, 5.0),
        ];
        let prep = Prepared::new(&data, 1.0 / 38.0);
        let theta = [-0.7, 0.3, -0.2, 0.9];
        let at = |th: &[f64; 4]| BgNbdParams {
            r: th[0].exp(),
            alpha: th[1].exp(),
            a: th[2].exp(),
            b: th[3].exp(),
        };
        let (_, g) = prep.log_likelihood_and_grad(&at(&theta));
        for k in 0..4 {
            let h = 1e-6;
            let mut up = theta;
            let mut dn = theta;
            up[k] += h;
            dn[k] -= h;
            let fd = (prep.log_likelihood_and_grad(&at(&up)).0
                - prep.log_likelihood_and_grad(&at(&dn)).0)
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()),
                "k={k} fd={fd} g={}",
                g[k]
            );
        }
    }

    #[test]
    fn log_likelihood_single_customer_by_hand() {
        // x = 0: L = (α/(α+T))^r
        let ll = log_likelihood(&CDNOW, &[Rfm::new(0.0, 0.0, 10.0)]);
        let want = CDNOW.r * (CDNOW.alpha / (CDNOW.alpha + 10.0)).ln();
        assert!(rel(ll, want) < 1e-14);
        // x = 1: B(a, b+1)/B(a,b) Γ(r+1)/Γ(r) α^r/(α+T)^(r+1) + B(a+1, b)/B(a,b) Γ(r+1)/Γ(r) α^r/(α+t_x)^(r+1)
        let BgNbdParams { r, alpha, a, b } = CDNOW;
        let (tx, tt) = (4.0, 10.0);
        let l = r
            * alpha.powf(r)
            * (b / (a + b) / (alpha + tt).powf(r + 1.0) + a / (a + b) / (alpha + tx).powf(r + 1.0));
        let ll = log_likelihood(&CDNOW, &[Rfm::new(1.0, tx, tt)]);
        assert!(rel(ll, l.ln()) < 1e-13);
    }

    #[test]
    fn fit_errors_are_clear() {
        let o = FitOptions::default();
        let e = fit(&[], &o).unwrap_err().to_string();
        assert!(e.contains("no customers"), "{e}");
        let zeros = vec![Rfm::new(0.0, 0.0, 10.0); 50];
        let e = fit(&zeros, &o).unwrap_err().to_string();
        assert!(e.contains("nobody made a repeat purchase"), "{e}");
        let e = fit(&[Rfm::new(1.0, f64::NAN, 3.0)], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-finite"), "{e}");
        let e = fit(&[Rfm::new(1.0, 5.0, 3.0)], &o).unwrap_err().to_string();
        assert!(e.contains("larger than the age"), "{e}");
        let e = fit(&[Rfm::new(1.5, 1.0, 3.0)], &o).unwrap_err().to_string();
        assert!(e.contains("not a non-negative integer"), "{e}");
        let e = fit(&[Rfm::new(0.0, 1.0, 3.0)], &o).unwrap_err().to_string();
        assert!(e.contains("no repeat purchase"), "{e}");
        let bad = FitOptions {
            penalizer: -1.0,
            ..o
        };
        assert!(fit(&[Rfm::new(1.0, 1.0, 3.0)], &bad).is_err());
        let e = fit(
            &[Rfm {
                weight: 0.0,
                ..Rfm::new(1.0, 1.0, 3.0)
            }],
            &o,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("weights sum"), "{e}");
    }

    #[test]
    fn fit_non_convergence_and_non_identification_are_errors() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.9,
            b: 3.0,
        };
        let data = simulate(&truth, 500, 5);
        let e = fit(
            &data,
            &FitOptions {
                max_iters: 2,
                ..FitOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("BG/NBD: the fit did not converge after 2 iterations"),
            "{e}"
        );
        // one repeater and one non-repeater: r and α run off together
        let data = [Rfm::new(1.0, 5.0, 10.0), Rfm::new(0.0, 0.0, 10.0)];
        let e = fit(&data, &FitOptions::default()).unwrap_err().to_string();
        assert!(e.contains("do not identify the model"), "{e}");
    }

    #[test]
    fn fit_degenerate_data_is_an_error_not_a_panic() {
        // everybody repeats exactly once at the very end: no information on dropout
        let data: Vec<Rfm> = (1..40).map(|k| Rfm::new(1.0, k as f64, k as f64)).collect();
        // whatever happens, no panic; if it fits, the parameters are finite
        match fit(&data, &FitOptions::default()) {
            Ok(f) => assert!(f.params.r.is_finite() && f.params.b.is_finite()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    // ---- reference tests against lifetimes 0.11.3 (tests/reference/make_reference.py) ----

    #[derive(Deserialize)]
    struct RefSummary {
        x: Vec<f64>,
        t_x: Vec<f64>,
        #[serde(rename = "T")]
        t: Vec<f64>,
        m: Vec<f64>,
    }
    #[derive(Deserialize)]
    struct RefParams {
        r: f64,
        alpha: f64,
        a: f64,
        b: f64,
    }
    #[derive(Deserialize)]
    struct RefBg {
        penalizer: f64,
        params: RefParams,
        lifetimes_negative_log_likelihood: f64,
        log_likelihood_sum: f64,
        #[serde(default)]
        p_alive: Vec<f64>,
        #[serde(default)]
        horizons: Vec<f64>,
        #[serde(default)]
        expected_purchases: std::collections::BTreeMap<String, Vec<f64>>,
        #[serde(default)]
        expected_purchases_new: std::collections::BTreeMap<String, f64>,
    }
    #[derive(Deserialize)]
    struct RefGgParams {
        p: f64,
        q: f64,
        v: f64,
    }
    #[derive(Deserialize)]
    struct RefGg {
        params: RefGgParams,
        lifetimes_negative_log_likelihood: f64,
        log_likelihood_sum: f64,
        n_used: usize,
        expected_average_profit: Vec<f64>,
        population_mean: f64,
    }
    #[derive(Deserialize)]
    struct RefClv {
        months: u32,
        discount_rate: f64,
        step: f64,
        clv: Vec<f64>,
    }
    #[derive(Deserialize)]
    struct Reference {
        summary: RefSummary,
        sample: Vec<usize>,
        bgnbd: Vec<RefBg>,
        gamma_gamma: RefGg,
        clv: std::collections::BTreeMap<String, RefClv>,
    }

    fn check_reference(json: &str) {
        let re: Reference = serde_json::from_str(json).unwrap();
        let s = &re.summary;
        let data: Vec<Rfm> = (0..s.x.len())
            .map(|i| Rfm::new(s.x[i], s.t_x[i], s.t[i]))
            .collect();
        let mut fitted = None;
        for rb in &re.bgnbd {
            let opts = FitOptions {
                penalizer: rb.penalizer,
                ..FitOptions::default()
            };
            let f = fit(&data, &opts).unwrap();
            let p = f.params;
            let want = [rb.params.r, rb.params.alpha, rb.params.a, rb.params.b];
            let got = [p.r, p.alpha, p.a, p.b];
            for k in 0..4 {
                assert!(
                    rel(got[k], want[k]) < 1e-3,
                    "penalizer {}: param {k}: {} vs lifetimes {}",
                    rb.penalizer,
                    got[k],
                    want[k]
                );
            }
            assert!(
                rel(
                    f.lifetimes_negative_log_likelihood,
                    rb.lifetimes_negative_log_likelihood
                ) < 1e-4,
                "{} vs {}",
                f.lifetimes_negative_log_likelihood,
                rb.lifetimes_negative_log_likelihood
            );
            // our optimum is at least as good as lifetimes'
            assert!(
                f.lifetimes_negative_log_likelihood <= rb.lifetimes_negative_log_likelihood + 1e-9
            );
            if rb.penalizer == 0.0 {
                assert!(
                    rel(f.log_likelihood, rb.log_likelihood_sum) < 1e-4,
                    "{} vs {}",
                    f.log_likelihood,
                    rb.log_likelihood_sum
                );
                // the log-likelihood at lifetimes' own parameters, in data units, exactly
                let theirs = BgNbdParams {
                    r: want[0],
                    alpha: want[1],
                    a: want[2],
                    b: want[3],
                };
                assert!(rel(log_likelihood(&theirs, &data), rb.log_likelihood_sum) < 1e-12);
                fitted = Some((f, theirs, rb));
            }
        }
        let (f, theirs, rb) = fitted.unwrap();
        // per-customer expectations: at lifetimes' parameters (exact formulas, 1e-9) and at
        // ours (1e-4: the fits agree to ~1e-4 relative)
        for (j, &i) in re.sample.iter().enumerate() {
            let (x, tx, tt) = (s.x[i], s.t_x[i], s.t[i]);
            assert!(rel(theirs.p_alive(x, tx, tt), rb.p_alive[j]) < 1e-9);
            assert!(rel(f.params.p_alive(x, tx, tt), rb.p_alive[j]) < 1e-4);
            for h in &rb.horizons {
                let key = format!("{h:?}");
                let want = rb.expected_purchases[&key][j];
                let got = theirs.expected_purchases(*h, x, tx, tt);
                assert!(
                    rel(got, want) < 1e-9,
                    "h={h} i={i} x={x} t_x={tx} T={tt}: {got} vs {want}"
                );
                let got = f.params.expected_purchases(*h, x, tx, tt);
                assert!(rel(got, want) < 1e-4, "h={h} i={i}: {got} vs {want}");
            }
        }
        for h in &rb.horizons {
            let want = rb.expected_purchases_new[&format!("{h:?}")];
            assert!(rel(theirs.expected_purchases_new(*h), want) < 1e-9);
            assert!(rel(f.params.expected_purchases_new(*h), want) < 1e-4);
        }

        // Gamma-Gamma on the repeaters
        let rep: Vec<usize> = (0..s.x.len()).filter(|&i| s.x[i] > 0.0).collect();
        assert_eq!(rep.len(), re.gamma_gamma.n_used);
        let fx: Vec<f64> = rep.iter().map(|&i| s.x[i]).collect();
        let fm: Vec<f64> = rep.iter().map(|&i| s.m[i]).collect();
        let g = gamma_gamma::fit(&fx, &fm, None, &FitOptions::default()).unwrap();
        let rg = &re.gamma_gamma;
        let want = [rg.params.p, rg.params.q, rg.params.v];
        let got = [g.params.p, g.params.q, g.params.v];
        for k in 0..3 {
            assert!(
                rel(got[k], want[k]) < 1e-3,
                "gamma-gamma param {k}: {} vs {}",
                got[k],
                want[k]
            );
        }
        assert!(
            rel(
                g.lifetimes_negative_log_likelihood,
                rg.lifetimes_negative_log_likelihood
            ) < 1e-4
        );
        assert!(rel(g.log_likelihood, rg.log_likelihood_sum) < 1e-4);
        let gtheirs = GammaGammaParams {
            p: want[0],
            q: want[1],
            v: want[2],
        };
        assert!(rel(gtheirs.population_mean(), rg.population_mean) < 1e-12);
        for (j, &i) in re.sample.iter().enumerate() {
            let wantv = rg.expected_average_profit[j];
            assert!(
                rel(
                    gtheirs.conditional_expected_average_profit(s.x[i], s.m[i]),
                    wantv
                ) < 1e-12
            );
            assert!(
                rel(
                    g.params.conditional_expected_average_profit(s.x[i], s.m[i]),
                    wantv
                ) < 1e-4
            );
        }
        // CLV
        for c in re.clv.values() {
            let opts = ClvOptions {
                months: c.months,
                discount_rate: c.discount_rate,
                step: c.step,
                margin: 1.0,
            };
            for (j, &i) in re.sample.iter().enumerate() {
                let cust = Rfm::new(s.x[i], s.t_x[i], s.t[i]);
                let exact = customer_lifetime_value(&theirs, &gtheirs, cust, s.m[i], &opts);
                assert!(
                    rel(exact, c.clv[j]) < 1e-9,
                    "clv i={i}: {exact} vs {}",
                    c.clv[j]
                );
                let ours = customer_lifetime_value(&f.params, &g.params, cust, s.m[i], &opts);
                assert!(
                    rel(ours, c.clv[j]) < 1e-4,
                    "clv i={i}: {ours} vs {}",
                    c.clv[j]
                );
            }
        }
    }

    #[test]
    fn matches_lifetimes_days() {
        check_reference(include_str!("../../tests/reference/bgnbd_days.json"));
    }

    #[test]
    fn matches_lifetimes_weeks() {
        check_reference(include_str!("../../tests/reference/bgnbd_weeks.json"));
    }

    #[test]
    fn grouping_does_not_change_the_fit() {
        let json = include_str!("../../tests/reference/bgnbd_days.json");
        let re: Reference = serde_json::from_str(json).unwrap();
        let s = &re.summary;
        let data: Vec<Rfm> = (0..s.x.len())
            .map(|i| Rfm::new(s.x[i], s.t_x[i], s.t[i]))
            .collect();
        let grouped = crate::models::group(&data);
        assert!(grouped.len() < data.len());
        let total: f64 = grouped.iter().map(|d| d.weight).sum();
        assert_eq!(total, data.len() as f64);
        let a = fit(&data, &FitOptions::default()).unwrap();
        let b = fit(&grouped, &FitOptions::default()).unwrap();
        assert!(rel(a.log_likelihood, b.log_likelihood) < 1e-12);
        assert!(rel(a.params.r, b.params.r) < 1e-9);
    }

    /// Simulate BG/NBD summaries (Poisson purchases at rate λ ~ Gamma(r, α), dropout with
    /// probability p ~ Beta(a, b) after each repeat purchase), observed for T units.
    fn simulate(p: &BgNbdParams, n: usize, seed: u64) -> Vec<Rfm> {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let lam_d = Gamma::new(p.r, 1.0 / p.alpha).unwrap();
        let p_d = Beta::new(p.a, p.b).unwrap();
        (0..n)
            .map(|_| {
                let big_t = rng.random_range(20.0..60.0_f64).round();
                let lam: f64 = lam_d.sample(&mut rng);
                let drop: f64 = p_d.sample(&mut rng);
                let (mut t, mut x, mut tx) = (0.0, 0.0, 0.0);
                if lam > 0.0 {
                    let e = Exp::new(lam).unwrap();
                    loop {
                        t += e.sample(&mut rng);
                        if t >= big_t {
                            break;
                        }
                        x += 1.0;
                        tx = t;
                        if rng.random::<f64>() < drop {
                            break;
                        }
                    }
                }
                Rfm::new(x, tx, big_t)
            })
            .collect()
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.9,
            b: 3.0,
        };
        let data = simulate(&truth, 20_000, 7);
        let f = fit(&data, &FitOptions::default()).unwrap();
        let p = f.params;
        // ±15% on each parameter (the sampling error at n = 20,000 is a few percent)
        for (got, want) in [
            (p.r, truth.r),
            (p.alpha, truth.alpha),
            (p.a, truth.a),
            (p.b, truth.b),
        ] {
            assert!(rel(got, want) < 0.15, "{p:?} vs {truth:?}");
        }
        // the fitted log-likelihood beats the truth's
        assert!(f.log_likelihood >= log_likelihood(&truth, &data));
    }

    #[test]
    fn penalizer_shrinks_parameters() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.9,
            b: 3.0,
        };
        let data = simulate(&truth, 3_000, 11);
        let f0 = fit(&data, &FitOptions::default()).unwrap();
        let f1 = fit(
            &data,
            &FitOptions {
                penalizer: 0.1,
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(f1.params.b < f0.params.b);
        assert!(f1.log_likelihood < f0.log_likelihood);
    }
}
