//! BG/BB model (Fader, Hardie & Shang 2010, "Customer-base analysis in a discrete-time
//! noncontractual setting"), fitted by maximum likelihood as in lifetimes 0.11.3's
//! `BetaGeoBetaBinomFitter`: on log parameters started at 0.1, minimising the mean
//! negative log-likelihood per customer plus `penalizer · (α² + β² + γ² + δ²)`. The
//! gradient is analytic (digamma).
//!
//! Discrete time: n transaction opportunities; while alive, a customer transacts at each
//! with probability p ~ Beta(α, β), and dies before each next opportunity with probability
//! θ ~ Beta(γ, δ). A history is x transactions, the last at opportunity t_x (0 when x = 0):
//!
//! ```text
//! L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
//!   + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ)
//! ```
//!
//! (lifetimes adds 1e-15 to the sum; not here, so log-likelihoods differ by ~1e-13.)

use anyhow::{anyhow, bail, Result};

use super::special::{digamma, ln_gamma};
use super::{minimise, CountScore, FitOptions, Rfm};

/// One customer's (or group's) BG/BB summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bgbb {
    /// x: number of repeat transactions (integer).
    pub x: f64,
    /// t_x: the opportunity of the last transaction (integer, x ≤ t_x ≤ n; 0 when x = 0).
    pub t_x: f64,
    /// n: number of transaction opportunities (integer).
    pub n: f64,
    /// How many customers share this history.
    pub weight: f64,
}

impl Bgbb {
    /// A single customer (weight 1).
    pub fn new(x: f64, t_x: f64, n: f64) -> Self {
        Bgbb {
            x,
            t_x,
            n,
            weight: 1.0,
        }
    }
}

/// BG/BB parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgbbParams {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub delta: f64,
}

/// A fitted BG/BB model.
#[derive(Debug, Clone, PartialEq)]
pub struct BgbbFit {
    pub params: BgbbParams,
    /// Σ over customers (weights included) of ln L, no penalty.
    pub log_likelihood: f64,
    /// lifetimes' `_negative_log_likelihood_`: mean negative log-likelihood per customer
    /// plus the penalty.
    pub lifetimes_negative_log_likelihood: f64,
    pub iterations: u64,
    /// Always true for a returned fit: a fit that does not converge is an error.
    pub converged: bool,
    pub grad_norm: f64,
    /// Number of customers (sum of weights).
    pub n_customers: f64,
    /// Number of distinct (x, t_x, n) histories.
    pub n_groups: usize,
}

/// Largest number of transaction opportunities accepted (the likelihood has a term per
/// opportunity after t_x).
pub const MAX_OPPORTUNITIES: f64 = 1e6;

fn is_int(v: f64) -> bool {
    v.is_finite() && v >= 0.0 && v.fract() == 0.0
}

pub(crate) fn check_row(i: usize, d: &Bgbb) -> Result<()> {
    if !(is_int(d.x) && is_int(d.t_x) && is_int(d.n)) {
        bail!(
            "BG/BB: customer {i}: x = {}, t_x = {}, n = {} must be non-negative integers",
            d.x,
            d.t_x,
            d.n
        );
    }
    if d.n > MAX_OPPORTUNITIES {
        bail!(
            "BG/BB: customer {i}: n = {} opportunities is more than the {MAX_OPPORTUNITIES} supported",
            d.n
        );
    }
    if !(d.weight.is_finite() && d.weight >= 0.0) {
        bail!("BG/BB: customer {i}: invalid weight {}", d.weight);
    }
    if d.t_x > d.n {
        bail!(
            "BG/BB: customer {i}: t_x = {} is after the last opportunity n = {}",
            d.t_x,
            d.n
        );
    }
    if d.x > d.t_x || (d.x == 0.0 && d.t_x != 0.0) || (d.x > 0.0 && d.t_x == 0.0) {
        bail!(
            "BG/BB: customer {i}: x = {} transactions cannot have the last at t_x = {}",
            d.x,
            d.t_x
        );
    }
    Ok(())
}

/// ln B(p, q).
fn ln_beta(p: f64, q: f64) -> f64 {
    ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
}

/// ln L of one history and its gradient with respect to (α, β, γ, δ) (natural
/// parameters). Each term of L is B(α+x, β+k)/B(α,β) · B(γ+j, δ+m)/B(γ,δ); the gradient
/// is the softmax-weighted sum of the terms' log-gradients.
///
/// The n − t_x terms of the sum (j = 1, k = t_x−x+i, m = t_x+i) are computed from the
/// first by their ratio, term_{i+1}/term_i = (β+k)(δ+m) / ((α+β+x+k)(γ+δ+1+m)) (below 1:
/// the first is the largest, so the products neither overflow nor lose the sum), and their
/// digammas by ψ(z+1) = ψ(z) + 1/z: a few multiplications per opportunity instead of
/// eleven special functions.
fn row_ll_grad(p: &BgbbParams, d: &Bgbb, with_grad: bool) -> (f64, [f64; 4]) {
    let BgbbParams {
        alpha,
        beta,
        gamma,
        delta,
    } = *p;
    let (x, tx, n) = (d.x, d.t_x, d.n);
    if !(n - tx >= 0.0 && n - tx <= MAX_OPPORTUNITIES) {
        return (f64::NAN, [f64::NAN; 4]);
    }
    let lb_ab = ln_beta(alpha, beta);
    let lb_gd = ln_beta(gamma, delta);
    let extra = (n - tx) as usize;
    let lnb_x = ln_gamma(alpha + x);
    // The survivor's term (k = n−x, j = 0, m = n).
    let l0 = lnb_x + ln_gamma(beta + n - x) - ln_gamma(alpha + beta + n)
        + ln_gamma(gamma)
        + ln_gamma(delta + n)
        - ln_gamma(gamma + delta + n);
    // The first of the died-after-opportunity-(t_x+i) terms, and the sum of all of them
    // relative to it.
    let l1 = if extra > 0 {
        lnb_x + ln_gamma(beta + tx - x) - ln_gamma(alpha + beta + tx)
            + ln_gamma(gamma + 1.0)
            + ln_gamma(delta + tx)
            - ln_gamma(gamma + delta + 1.0 + tx)
    } else {
        f64::NEG_INFINITY
    };
    // The i-th term's four arguments: β+k, α+β+x+k, δ+m, γ+δ+1+m, each a parameter plus
    // an exact integer (k = t_x−x+i, m = t_x+i; x+k = m), so that no rounding accumulates
    // over thousands of opportunities (a drift the numeric Hessian would amplify).
    let (ab, gd1) = (alpha + beta, gamma + delta + 1.0);
    let args = |i: usize| {
        let m = tx + i as f64;
        [beta + (m - x), ab + m, delta + m, gd1 + m]
    };
    let mut rel_sum = 0.0;
    {
        let mut rel = 1.0;
        for i in 0..extra {
            rel_sum += rel;
            let z = args(i);
            rel *= (z[0] * z[2]) / (z[1] * z[3]);
        }
    }
    let hi = l0.max(l1);
    let (e0, e1) = ((l0 - hi).exp(), (l1 - hi).exp());
    let sum = e0 + e1 * rel_sum;
    let ll = hi + sum.ln() - lb_ab - lb_gd;
    if !with_grad {
        return (ll, [0.0; 4]);
    }
    let dg_x = digamma(alpha + x);
    let mut g = [0.0; 4];
    {
        let w0 = e0 / sum;
        let dab = digamma(alpha + beta + n);
        let dgd = digamma(gamma + delta + n);
        g[0] += w0 * (dg_x - dab);
        g[1] += w0 * (digamma(beta + n - x) - dab);
        g[2] += w0 * (digamma(gamma) - dgd);
        g[3] += w0 * (digamma(delta + n) - dgd);
    }
    if extra > 0 {
        // Σ_i rel_i · (ψ-terms_i), then scaled by the first term's weight.
        let dg_g1 = digamma(gamma + 1.0);
        let mut psi = args(0).map(digamma);
        let mut rel = 1.0;
        let mut acc = [0.0; 4];
        for i in 0..extra {
            let [p_bk, p_abk, p_dm, p_gdm] = psi;
            acc[0] += rel * (dg_x - p_abk);
            acc[1] += rel * (p_bk - p_abk);
            acc[2] += rel * (dg_g1 - p_gdm);
            acc[3] += rel * (p_dm - p_gdm);
            let z = args(i);
            rel *= (z[0] * z[2]) / (z[1] * z[3]);
            for (s, v) in psi.iter_mut().zip(z) {
                *s += 1.0 / v;
            }
        }
        let w1 = e1 / sum;
        for k in 0..4 {
            g[k] += w1 * acc[k];
        }
    }
    let (dab0, dgd0) = (digamma(alpha + beta), digamma(gamma + delta));
    g[0] -= digamma(alpha) - dab0;
    g[1] -= digamma(beta) - dab0;
    g[2] -= digamma(gamma) - dgd0;
    g[3] -= digamma(delta) - dgd0;
    (ll, g)
}

fn sum_ll_grad(p: &BgbbParams, data: &[Bgbb], with_grad: bool) -> (f64, [f64; 4]) {
    let part = |rows: &[Bgbb]| -> [f64; 5] {
        let mut acc = [0.0; 5];
        for d in rows {
            let (l, g) = row_ll_grad(p, d, with_grad);
            acc[0] += d.weight * l;
            for k in 0..4 {
                acc[k + 1] += d.weight * g[k];
            }
        }
        acc
    };
    let a = if data.len() < 4_096 {
        part(data)
    } else {
        super::par_chunk_sum(data, 2_048, &part, &|mut u, v| {
            for k in 0..5 {
                u[k] += v[k];
            }
            u
        })
    };
    (a[0], [a[1], a[2], a[3], a[4]])
}

/// Σ (weights included) of the BG/BB log-likelihood. Rows are not validated here.
pub fn log_likelihood(params: &BgbbParams, data: &[Bgbb]) -> f64 {
    sum_ll_grad(params, data, false).0
}

/// The gradient of Σ (weights included) of the BG/BB log-likelihood with respect to
/// (α, β, γ, δ) (analytic). Rows are not validated here.
pub fn log_likelihood_gradient(params: &BgbbParams, data: &[Bgbb]) -> [f64; 4] {
    sum_ll_grad(params, data, true).1
}

/// Group identical (x, t_x, n), summing weights (order of first appearance), dropping
/// zero weights. (The crate's triple grouping: a million rows group in milliseconds.)
pub(crate) fn group(data: &[Bgbb]) -> Vec<Bgbb> {
    let rows: Vec<Rfm> = data.iter().filter(|d| d.weight > 0.0).map(as_rfm).collect();
    super::group(&rows).iter().map(from_rfm).collect()
}

/// The distinct (x, t_x, n) of `data` (weights summed, order of first appearance) and,
/// for each row, the index of its history.
pub(crate) fn group_with_index(data: &[Bgbb]) -> (Vec<Bgbb>, Vec<u32>) {
    let rows: Vec<Rfm> = data.iter().map(as_rfm).collect();
    let (g, which) = super::group_with_index(&rows);
    (g.iter().map(from_rfm).collect(), which)
}

fn as_rfm(d: &Bgbb) -> Rfm {
    Rfm {
        x: d.x,
        t_x: d.t_x,
        t: d.n,
        weight: d.weight,
    }
}

fn from_rfm(r: &Rfm) -> Bgbb {
    Bgbb {
        x: r.x,
        t_x: r.t_x,
        n: r.t,
        weight: r.weight,
    }
}

fn objective(data: &[Bgbb], total_w: f64, pen: f64, theta: &[f64]) -> (f64, Vec<f64>) {
    let p = BgbbParams {
        alpha: theta[0].exp(),
        beta: theta[1].exp(),
        gamma: theta[2].exp(),
        delta: theta[3].exp(),
    };
    let (ll, g) = sum_ll_grad(&p, data, true);
    let ps = [p.alpha, p.beta, p.gamma, p.delta];
    let value = -ll / total_w + pen * ps.iter().map(|v| v * v).sum::<f64>();
    let grad = (0..4)
        .map(|k| (-g[k] / total_w + 2.0 * pen * ps[k]) * ps[k])
        .collect();
    (value, grad)
}

/// Fit the BG/BB model by maximum likelihood (identical histories grouped first). Errors
/// (never panics) on empty or invalid data, nobody transacting, non-convergence and
/// parameters that run off to 0 or ∞.
pub fn fit(data: &[Bgbb], opts: &FitOptions) -> Result<BgbbFit> {
    opts.validate()?;
    if data.is_empty() {
        bail!("BG/BB: no customers to fit");
    }
    for (i, d) in data.iter().enumerate() {
        check_row(i, d)?;
    }
    let grouped = group(data);
    let total_w: f64 = grouped.iter().map(|d| d.weight).sum();
    if grouped.is_empty() || !(total_w > 0.0 && total_w.is_finite()) {
        bail!("BG/BB: the customers' weights sum to {total_w}");
    }
    if !grouped.iter().any(|d| d.x > 0.0) {
        bail!("BG/BB: nobody made a repeat transaction (x = 0 for every customer), so the model cannot be identified");
    }
    let pen = opts.penalizer;
    let opt = minimise(
        |th| objective(&grouped, total_w, pen, th),
        vec![0.1; 4],
        opts,
    )
    .map_err(|e| anyhow!("BG/BB: {e}"))?;
    super::check_identified(
        "BG/BB",
        &["alpha", "beta", "gamma", "delta"],
        &opt.log_params,
    )?;
    let th = &opt.log_params;
    let params = BgbbParams {
        alpha: th[0].exp(),
        beta: th[1].exp(),
        gamma: th[2].exp(),
        delta: th[3].exp(),
    };
    Ok(BgbbFit {
        params,
        log_likelihood: log_likelihood(&params, &grouped),
        lifetimes_negative_log_likelihood: opt.objective,
        iterations: opt.iterations,
        converged: true,
        grad_norm: opt.grad_norm,
        n_customers: total_w,
        n_groups: grouped.len(),
    })
}

/// Score many customers in parallel (rayon): p_alive (alive at opportunity n) and the
/// expected transactions in the next `n_star` opportunities, computed once per distinct
/// (x, t_x, n). Equal to [`BgbbParams::p_alive`] and [`BgbbParams::expected_purchases`].
pub fn score(params: &BgbbParams, customers: &[Bgbb], n_star: f64) -> Vec<CountScore> {
    let (distinct, which) = group_with_index(customers);
    let per = score_distinct(params, &distinct, n_star);
    which.iter().map(|&k| per[k as usize]).collect()
}

/// [`score`] of each row of `distinct` (in parallel).
pub(crate) fn score_distinct(
    params: &BgbbParams,
    distinct: &[Bgbb],
    n_star: f64,
) -> Vec<CountScore> {
    use rayon::prelude::*;
    distinct
        .par_iter()
        .with_min_len(16)
        .map(|d| CountScore {
            p_alive: params.p_alive(d.x, d.t_x, d.n),
            expected_purchases: params.expected_purchases(n_star, d.x, d.t_x, d.n),
        })
        .collect()
}

impl BgbbParams {
    /// ln L of one history (x, t_x, n).
    pub fn ln_likelihood(&self, x: f64, t_x: f64, n: f64) -> f64 {
        row_ll_grad(self, &Bgbb::new(x, t_x, n), false).0
    }

    /// P(alive at opportunity n + m | x, t_x, n) (lifetimes `conditional_probability_alive`
    /// with `m_periods_in_future` = m; FHS 2010 equation A10).
    pub fn p_alive_at(&self, m: f64, x: f64, t_x: f64, n: f64) -> f64 {
        let BgbbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        (ln_beta(alpha + x, beta + n - x) - ln_beta(alpha, beta) + ln_beta(gamma, delta + n + m)
            - ln_beta(gamma, delta)
            - self.ln_likelihood(x, t_x, n))
        .exp()
    }

    /// P(alive at opportunity n | x, t_x, n): the customer survived all n opportunities
    /// (lifetimes' `conditional_probability_alive(0, x, t_x, n)`).
    pub fn p_alive(&self, x: f64, t_x: f64, n: f64) -> f64 {
        self.p_alive_at(0.0, x, t_x, n)
    }

    /// Expected number of transactions in the next `n_star` opportunities (n+1 … n+n*)
    /// of a customer with history (x, t_x, n) (FHS 2010 equation 13; lifetimes
    /// `conditional_expected_number_of_purchases_up_to_time`):
    /// 1/L · B(α+x+1, β+n−x)/B(α,β) · δ/(γ−1) · Γ(γ+δ)/Γ(1+δ) ·
    /// [Γ(1+δ+n)/Γ(γ+δ+n) − Γ(1+δ+n+n*)/Γ(γ+δ+n+n*)] (the γ = 1 limit taken).
    pub fn expected_purchases(&self, n_star: f64, x: f64, t_x: f64, n: f64) -> f64 {
        if !(n_star >= 0.0 && n_star.is_finite()) {
            return f64::NAN;
        }
        if n_star == 0.0 {
            return 0.0;
        }
        let BgbbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let ln_front = ln_beta(alpha + x + 1.0, beta + n - x)
            - ln_beta(alpha, beta)
            - self.ln_likelihood(x, t_x, n);
        let g1 = gamma - 1.0;
        let u = ln_gamma(1.0 + delta + n) - ln_gamma(gamma + delta + n);
        let v = ln_gamma(1.0 + delta + n + n_star) - ln_gamma(gamma + delta + n + n_star);
        // δ/(γ−1) · Γ(γ+δ)/Γ(1+δ) · (e^u − e^v)
        let bracket = if g1.abs() < 1e-8 {
            // e^u − e^v → (γ−1)(ψ(1+δ+n+n*) − ψ(1+δ+n)) as γ → 1
            delta * (digamma(1.0 + delta + n + n_star) - digamma(1.0 + delta + n))
        } else {
            delta / g1 * (u.exp() * -(v - u).exp_m1())
        };
        (ln_front + ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp() * bracket
    }

    /// Σ_{k=1}^{steps} w(k) · P(a transaction at opportunity n+k | x, t_x, n): the
    /// expected transactions with each future opportunity weighted (e.g. discounted); with
    /// w = 1 it is [`Self::expected_purchases`] of `steps`. P(a transaction at n+k) =
    /// B(α+x+1, β+n−x)/B(α,β) · B(γ, δ+n+k)/B(γ,δ) / L, the ratio of consecutive
    /// opportunities' being (δ+n+k)/(γ+δ+n+k): one likelihood per customer, not one per
    /// opportunity.
    pub fn weighted_purchases(
        &self,
        steps: u32,
        x: f64,
        t_x: f64,
        n: f64,
        w: impl Fn(u32) -> f64,
    ) -> f64 {
        let BgbbParams {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let first = (ln_beta(alpha + x + 1.0, beta + n - x)
            - ln_beta(alpha, beta)
            - self.ln_likelihood(x, t_x, n)
            + ln_gamma(gamma + delta)
            - ln_gamma(delta)
            + ln_gamma(delta + n + 1.0)
            - ln_gamma(gamma + delta + n + 1.0))
        .exp();
        let (mut total, mut p) = (0.0, first);
        let gd = gamma + delta;
        for k in 1..=steps {
            total += w(k) * p;
            let m = n + f64::from(k);
            p *= (delta + m) / (gd + m);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::mbgnbd::tests::rel;

    #[derive(serde::Deserialize)]
    struct Summary {
        x: Vec<f64>,
        t_x: Vec<f64>,
        n: Vec<f64>,
        weight: Vec<f64>,
    }
    impl Summary {
        fn rows(&self) -> Vec<Bgbb> {
            (0..self.x.len())
                .map(|i| Bgbb {
                    x: self.x[i],
                    t_x: self.t_x[i],
                    n: self.n[i],
                    weight: self.weight[i],
                })
                .collect()
        }
    }
    #[derive(serde::Deserialize)]
    struct Reference {
        summary: Summary,
        params: std::collections::BTreeMap<String, f64>,
        lifetimes_negative_log_likelihood: f64,
        p_alive: Vec<f64>,
        future: Vec<u32>,
        expected_purchases: std::collections::BTreeMap<String, Vec<f64>>,
    }

    fn params_of(r: &Reference) -> BgbbParams {
        BgbbParams {
            alpha: r.params["alpha"],
            beta: r.params["beta"],
            gamma: r.params["gamma"],
            delta: r.params["delta"],
        }
    }

    fn check(r: &Reference, tol: f64) -> BgbbFit {
        let data = r.summary.rows();
        let f = fit(&data, &FitOptions::default()).unwrap();
        let p = f.params;
        let theirs = params_of(r);
        for (got, want) in [
            (p.alpha, theirs.alpha),
            (p.beta, theirs.beta),
            (p.gamma, theirs.gamma),
            (p.delta, theirs.delta),
        ] {
            assert!(rel(got, want) < tol, "{p:?} vs lifetimes {theirs:?}");
        }
        assert!(
            rel(
                f.lifetimes_negative_log_likelihood,
                r.lifetimes_negative_log_likelihood
            ) < 1e-9
        );
        for (i, d) in data.iter().enumerate() {
            assert!(rel(theirs.p_alive(d.x, d.t_x, d.n), r.p_alive[i]) < 1e-9);
            assert!(rel(p.p_alive(d.x, d.t_x, d.n), r.p_alive[i]) < 1e-5);
            for m in &r.future {
                let want = r.expected_purchases[&m.to_string()][i];
                let got = theirs.expected_purchases(f64::from(*m), d.x, d.t_x, d.n);
                assert!(rel(got, want) < 1e-9, "m={m} {d:?}: {got} vs {want}");
                let got = p.expected_purchases(f64::from(*m), d.x, d.t_x, d.n);
                assert!(rel(got, want) < 1e-5, "m={m} {d:?}: {got} vs {want}");
            }
        }
        f
    }

    #[test]
    fn donations_match_the_paper_and_lifetimes() {
        let r: Reference =
            serde_json::from_str(include_str!("../../tests/reference/models_donations.json"))
                .unwrap();
        let f = check(&r, 1e-5);
        let p = f.params;
        // Fader, Hardie & Shang (2010): α 1.204, β 0.750, γ 0.657, δ 2.783
        for (got, want) in [
            (p.alpha, 1.2035),
            (p.beta, 0.7497),
            (p.gamma, 0.6567),
            (p.delta, 2.7834),
        ] {
            assert!(rel(got, want) < 1e-4, "{p:?}");
        }
        assert_eq!(f.n_customers, 11_104.0);
        // the paper's LL: −33,225.6
        assert!(
            (f.log_likelihood + 33_225.6).abs() < 0.05,
            "{}",
            f.log_likelihood
        );
    }

    #[test]
    fn simulated_matches_lifetimes() {
        #[derive(serde::Deserialize)]
        struct Sim {
            bgbb: Reference,
        }
        let s: Sim =
            serde_json::from_str(include_str!("../../tests/reference/models_simulated.json"))
                .unwrap();
        check(&s.bgbb, 1e-5);
    }

    #[test]
    fn likelihood_by_enumeration() {
        // n = 3: sum P over all 2^3 transaction patterns with the same (x, t_x), by
        // integrating p and θ numerically (midpoint grid), against the closed form
        // (parameters > 2: smooth densities, so that the grid is accurate)
        let p = BgbbParams {
            alpha: 2.2,
            beta: 2.75,
            gamma: 2.66,
            delta: 2.8,
        };
        let grid = 400;
        let beta_pdf = |u: f64, a: f64, b: f64| {
            ((a - 1.0) * u.ln() + (b - 1.0) * (1.0 - u).ln() - ln_beta(a, b)).exp()
        };
        // pattern probability given p, θ: alive at opportunity k with prob (1−θ)^k
        let pattern = |bits: [bool; 3], pp: f64, th: f64| -> f64 {
            // sum over death times: dies before opportunity d+1 (alive for 1..d), d = 0..3
            let last = bits.iter().rposition(|&b| b).map_or(0, |i| i + 1);
            let mut total = 0.0;
            for d in last..=3 {
                let alive_prob = if d == 3 {
                    (1.0 - th).powi(3)
                } else {
                    (1.0 - th).powi(d as i32) * th
                };
                let mut q = 1.0;
                for &b in bits.iter().take(d) {
                    q *= if b { pp } else { 1.0 - pp };
                }
                total += alive_prob * q;
            }
            total
        };
        for (x, tx) in [(0.0, 0.0), (1.0, 2.0), (2.0, 3.0), (3.0, 3.0)] {
            let mut num = 0.0;
            for i in 0..grid {
                let pp = (i as f64 + 0.5) / grid as f64;
                for j in 0..grid {
                    let th = (j as f64 + 0.5) / grid as f64;
                    // one pattern with this (x, t_x): the probability depends on (x, t_x) only
                    let mut bits = [false; 3];
                    if x > 0.0 {
                        bits[tx as usize - 1] = true;
                        let mut left = x as usize - 1;
                        for b in bits.iter_mut().take(tx as usize - 1) {
                            if left > 0 {
                                *b = true;
                                left -= 1;
                            }
                        }
                    }
                    num += pattern(bits, pp, th)
                        * beta_pdf(pp, p.alpha, p.beta)
                        * beta_pdf(th, p.gamma, p.delta);
                }
            }
            num /= (grid * grid) as f64;
            let got = p.ln_likelihood(x, tx, 3.0).exp();
            assert!(rel(got, num) < 1e-4, "x={x} t_x={tx}: {got} vs {num}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = vec![
            Bgbb::new(0.0, 0.0, 6.0),
            Bgbb::new(2.0, 4.0, 6.0),
            Bgbb {
                weight: 3.0,
                ..Bgbb::new(5.0, 5.0, 8.0)
            },
        ];
        let th = [0.2, -0.3, -0.4, 1.0];
        let (_, g) = objective(&data, 5.0, 0.0, &th);
        for k in 0..4 {
            let h = 1e-6;
            let (mut up, mut dn) = (th, th);
            up[k] += h;
            dn[k] -= h;
            let fd =
                (objective(&data, 5.0, 0.0, &up).0 - objective(&data, 5.0, 0.0, &dn).0) / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-7 * (1.0 + g[k].abs()), "k={k}");
        }
    }

    #[test]
    fn score_matches_the_scalar_functions() {
        let p = BgbbParams {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        let data = simulate(&p, 12, 5_000, 2);
        let s = score(&p, &data, 5.0);
        for (d, sc) in data.iter().zip(&s) {
            assert_eq!(sc.p_alive, p.p_alive(d.x, d.t_x, d.n));
            assert_eq!(
                sc.expected_purchases,
                p.expected_purchases(5.0, d.x, d.t_x, d.n)
            );
        }
    }

    #[test]
    fn group_sums_weights_in_first_appearance_order_and_drops_zero_weights() {
        let row = |x, t_x, n, weight| Bgbb { x, t_x, n, weight };
        let data = [
            row(1.0, 2.0, 6.0, 1.0),
            row(0.0, 0.0, 6.0, 0.0),
            row(0.0, -0.0, 6.0, 2.0),
            row(1.0, 2.0, 6.0, 0.5),
            row(0.0, 0.0, 6.0, 1.0),
        ];
        let g = group(&data);
        assert_eq!(g, vec![row(1.0, 2.0, 6.0, 1.5), row(0.0, -0.0, 6.0, 3.0)]);
        let (d, which) = group_with_index(&data);
        assert_eq!(d.len(), 2);
        assert_eq!(which, vec![0, 1, 1, 0, 1]);
        // the grouped likelihood is the row-by-row one
        let p = BgbbParams {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        let by_row: f64 = data
            .iter()
            .map(|d| d.weight * p.ln_likelihood(d.x, d.t_x, d.n))
            .sum();
        assert!(rel(log_likelihood(&p, &g), by_row) < 1e-12);
    }

    #[test]
    fn standard_errors_of_rows_are_those_of_their_groups() {
        let p = BgbbParams {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        let data = simulate(&p, 6, 20_000, 3);
        let f = fit(&data, &FitOptions::default()).unwrap();
        let grouped = crate::models::se::bgbb(&f.params, &data).unwrap();
        // the Hessian from the gradient summed row by row
        let grad = |q: &[f64]| {
            let q = BgbbParams {
                alpha: q[0],
                beta: q[1],
                gamma: q[2],
                delta: q[3],
            };
            let mut g = vec![0.0; 4];
            for d in &data {
                let (_, r) = row_ll_grad(&q, d, true);
                for k in 0..4 {
                    g[k] += d.weight * r[k];
                }
            }
            g
        };
        let at = [
            f.params.alpha,
            f.params.beta,
            f.params.gamma,
            f.params.delta,
        ];
        let se = crate::models::se::hessian_from_gradient(&grad, &at).unwrap();
        let rows = crate::models::se::from_hessian(se, &at).unwrap();
        for (a, b) in rows.se.iter().zip(&grouped.se) {
            assert!(rel(*a, *b) < 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn expectations_limits() {
        let p = BgbbParams {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        assert_eq!(p.expected_purchases(0.0, 2.0, 4.0, 6.0), 0.0);
        assert!(p.expected_purchases(-1.0, 2.0, 4.0, 6.0).is_nan());
        // γ = 1 is the limit γ → 1
        let one = BgbbParams { gamma: 1.0, ..p };
        let near = BgbbParams {
            gamma: 1.0 + 1e-7,
            ..p
        };
        assert!(
            rel(
                one.expected_purchases(5.0, 2.0, 4.0, 6.0),
                near.expected_purchases(5.0, 2.0, 4.0, 6.0)
            ) < 1e-6
        );
        // one step ahead: P(alive at n+1) · E[p | history, alive]
        let (x, tx, n) = (2.0, 4.0, 6.0);
        let want = p.p_alive_at(1.0, x, tx, n) * (p.alpha + x) / (p.alpha + p.beta + n);
        assert!(rel(p.expected_purchases(1.0, x, tx, n), want) < 1e-12);
        // increasing in n*
        assert!(p.expected_purchases(10.0, x, tx, n) > p.expected_purchases(5.0, x, tx, n));
    }

    /// The likelihood and gradient term by term, every term from its own special
    /// functions: what the recurrences of [`row_ll_grad`] must equal.
    fn row_ll_grad_direct(p: &BgbbParams, x: f64, tx: f64, n: f64) -> (f64, [f64; 4]) {
        let (a, b, g, d) = (p.alpha, p.beta, p.gamma, p.delta);
        let mut terms = vec![(n - x, 0.0, n)];
        for i in 0..(n - tx) as usize {
            terms.push((tx - x + i as f64, 1.0, tx + i as f64));
        }
        let logs: Vec<f64> = terms
            .iter()
            .map(|&(k, j, m)| {
                ln_beta(a + x, b + k) - ln_beta(a, b) + ln_beta(g + j, d + m) - ln_beta(g, d)
            })
            .collect();
        let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = logs.iter().map(|l| (l - hi).exp()).sum();
        let mut grad = [0.0; 4];
        for (&(k, j, m), l) in terms.iter().zip(&logs) {
            let w = (l - hi).exp() / sum;
            let (dab, dgd) = (digamma(a + b + x + k), digamma(g + d + j + m));
            grad[0] += w * (digamma(a + x) - dab - digamma(a) + digamma(a + b));
            grad[1] += w * (digamma(b + k) - dab - digamma(b) + digamma(a + b));
            grad[2] += w * (digamma(g + j) - dgd - digamma(g) + digamma(g + d));
            grad[3] += w * (digamma(d + m) - dgd - digamma(d) + digamma(g + d));
        }
        (hi + sum.ln(), grad)
    }

    /// The recurrences over the opportunities give the term-by-term likelihood and
    /// gradient, on short and long (day-level, thousands of opportunities) histories.
    #[test]
    fn recurrences_equal_the_term_by_term_sums() {
        let params = [
            BgbbParams {
                alpha: 1.2,
                beta: 0.75,
                gamma: 0.66,
                delta: 2.8,
            },
            BgbbParams {
                alpha: 0.6,
                beta: 94.0,
                gamma: 1.07,
                delta: 269.0,
            },
            BgbbParams {
                alpha: 0.01,
                beta: 0.02,
                gamma: 30.0,
                delta: 0.05,
            },
        ];
        for p in &params {
            for &(x, tx, n) in &[
                (0.0, 0.0, 0.0),
                (0.0, 0.0, 6.0),
                (3.0, 5.0, 6.0),
                (6.0, 6.0, 6.0),
                (1.0, 40.0, 2_000.0),
                (25.0, 1_500.0, 3_000.0),
                (0.0, 0.0, 3_000.0),
            ] {
                let (ll, g) = row_ll_grad(p, &Bgbb::new(x, tx, n), true);
                let (want_ll, want_g) = row_ll_grad_direct(p, x, tx, n);
                assert!(
                    rel(ll, want_ll) < 1e-11,
                    "{p:?} {x} {tx} {n}: {ll} vs {want_ll}"
                );
                for k in 0..4 {
                    assert!(
                        (g[k] - want_g[k]).abs() < 1e-9 * (1.0 + want_g[k].abs()),
                        "{p:?} {x} {tx} {n} gradient {k}: {} vs {}",
                        g[k],
                        want_g[k]
                    );
                }
            }
        }
    }

    /// Weighted purchases: with weight 1 the expected purchases; with any weights the
    /// weighted steps of the expected purchases' curve.
    #[test]
    fn weighted_purchases_are_the_steps_of_the_expected_purchases() {
        for p in [
            BgbbParams {
                alpha: 1.2,
                beta: 0.75,
                gamma: 0.66,
                delta: 2.8,
            },
            BgbbParams {
                alpha: 0.6,
                beta: 94.0,
                gamma: 1.0,
                delta: 269.0,
            },
        ] {
            for &(x, tx, n) in &[(0.0, 0.0, 6.0), (3.0, 5.0, 6.0), (4.0, 300.0, 500.0)] {
                let ones = p.weighted_purchases(365, x, tx, n, |_| 1.0);
                assert!(rel(ones, p.expected_purchases(365.0, x, tx, n)) < 1e-10);
                let disc = |k: u32| 1.01f64.powf(-f64::from(k) / 30.0);
                let got = p.weighted_purchases(40, x, tx, n, disc);
                let mut want = 0.0;
                for k in 1..=40 {
                    let step = p.expected_purchases(f64::from(k), x, tx, n)
                        - p.expected_purchases(f64::from(k - 1), x, tx, n);
                    want += disc(k) * step;
                }
                assert!(rel(got, want) < 1e-9, "{got} vs {want}");
                assert_eq!(p.weighted_purchases(0, x, tx, n, disc), 0.0);
            }
        }
    }

    /// Simulate BG/BB histories over `n` opportunities.
    fn simulate(p: &BgbbParams, n: u32, count: usize, seed: u64) -> Vec<Bgbb> {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let pd = Beta::new(p.alpha, p.beta).unwrap();
        let td = Beta::new(p.gamma, p.delta).unwrap();
        (0..count)
            .map(|_| {
                let pp: f64 = pd.sample(&mut rng);
                let th: f64 = td.sample(&mut rng);
                let (mut x, mut tx) = (0.0, 0.0);
                for k in 1..=n {
                    if rng.random::<f64>() < th {
                        break;
                    }
                    if rng.random::<f64>() < pp {
                        x += 1.0;
                        tx = f64::from(k);
                    }
                }
                Bgbb::new(x, tx, f64::from(n))
            })
            .collect()
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = BgbbParams {
            alpha: 1.2,
            beta: 0.75,
            gamma: 0.66,
            delta: 2.8,
        };
        let data = simulate(&truth, 12, 100_000, 5);
        let f = fit(&data, &FitOptions::default()).unwrap();
        let p = f.params;
        eprintln!("BG/BB recovery: {p:?}");
        for (got, want) in [
            (p.alpha, truth.alpha),
            (p.beta, truth.beta),
            (p.gamma, truth.gamma),
            (p.delta, truth.delta),
        ] {
            assert!(rel(got, want) < 0.06, "{p:?} vs {truth:?}");
        }
        assert!(f.log_likelihood >= log_likelihood(&truth, &group(&data)));
    }

    #[test]
    fn fit_errors_are_clear() {
        let o = FitOptions::default();
        assert!(fit(&[], &o)
            .unwrap_err()
            .to_string()
            .contains("no customers"));
        let e = fit(&[Bgbb::new(2.0, 1.0, 6.0)], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot have the last"), "{e}");
        let e = fit(&[Bgbb::new(1.0, 7.0, 6.0)], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("after the last opportunity"), "{e}");
        let e = fit(&[Bgbb::new(1.5, 2.0, 6.0)], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("integers"), "{e}");
        let e = fit(&[Bgbb::new(0.0, 0.0, 6.0)], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nobody"), "{e}");
    }
}
