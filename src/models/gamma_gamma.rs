//! Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV:
//! using iso-value curves"; Hardie's note 025), fitted by maximum likelihood as in
//! lifetimes 0.11.3's `GammaGammaFitter`: on log parameters (p, q, v = γ), minimising the
//! mean negative log-likelihood per customer plus `penalizer · (p² + q² + v²)`, started
//! at log parameters 0.1, on the customers with x > 0 only.

use anyhow::{anyhow, bail, Result};

use super::special::{digamma, ln_gamma};
use super::{FitOptions, ValueIndex};

/// Gamma-Gamma parameters: spend per purchase z ~ Gamma(p, ν), ν ~ Gamma(q, γ = v).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    /// γ (lifetimes calls it v), in the monetary unit.
    pub v: f64,
}

/// A fitted Gamma-Gamma model.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    /// Σ over the customers used (weights included) of ln f(m | x; p, q, v), no penalty.
    pub log_likelihood: f64,
    /// lifetimes' `GammaGammaFitter._negative_log_likelihood_`: the mean negative
    /// log-likelihood per customer used, plus the penalty.
    pub lifetimes_negative_log_likelihood: f64,
    pub iterations: u64,
    /// Always true for a returned fit: a fit that does not converge is an error.
    pub converged: bool,
    pub grad_norm: f64,
    /// Customers used (x > 0; sum of weights).
    pub n_customers: f64,
    /// True when q > 1, i.e. the population mean spend v·p/(q − 1) is finite; when false,
    /// E[M] of customers with few purchases is meaningless (lifetimes returns it anyway).
    pub mean_is_finite: bool,
}

impl GammaGammaParams {
    /// Population mean spend per purchase, v·p / (q − 1) (meaningful only for q > 1).
    pub fn population_mean(&self) -> f64 {
        self.v * self.p / (self.q - 1.0)
    }

    /// E[M | x, m] = (γ + m·x)·p / (p·x + q − 1) (lifetimes
    /// `conditional_expected_average_profit`); the population mean when x = 0 (m ignored).
    pub fn conditional_expected_average_profit(&self, x: f64, m: f64) -> f64 {
        if x <= 0.0 {
            return self.population_mean();
        }
        (self.v + m * x) * self.p / (self.p * x + self.q - 1.0)
    }
}

/// Customers with x > 0, with the sums that do not depend on the parameters
/// precomputed per distinct x.
struct Prepared {
    rows: Vec<Row>,
    /// distinct x, Σ w, Σ w ln m per distinct x
    xs: Vec<f64>,
    wx: Vec<f64>,
    lx: Vec<f64>,
    total_w: f64,
}

struct Row {
    ix: u32,
    xm: f64,
    w: f64,
}

/// Σ w ln f and its gradient with respect to (ln p, ln q, ln v).
fn log_likelihood_and_grad(prep: &Prepared, par: &GammaGammaParams) -> (f64, [f64; 3]) {
    let GammaGammaParams { p, q, v } = *par;
    let nx = prep.xs.len();
    // per distinct x: S1 = Σ w ln(x m + v), S2 = Σ w / (x m + v)
    let part = |rows: &[Row]| -> Vec<[f64; 2]> {
        let mut s = vec![[0.0; 2]; nx];
        for row in rows {
            let y = row.xm + v;
            let e = &mut s[row.ix as usize];
            e[0] += row.w * y.ln();
            e[1] += row.w / y;
        }
        s
    };
    let sums = if prep.rows.len() < 50_000 {
        part(&prep.rows)
    } else {
        // In a fixed tree (not rayon's reduce, whose tree follows the work stealing): the
        // same fit on every run.
        crate::models::par_chunk_sum(&prep.rows, 16_384, &part, &|mut u, w| {
            for (a, b) in u.iter_mut().zip(&w) {
                a[0] += b[0];
                a[1] += b[1];
            }
            u
        })
    };
    let (ln_v, lg_q, dg_q) = (v.ln(), ln_gamma(q), digamma(q));
    let (mut ll, mut gp, mut gq, mut gv) = (0.0, 0.0, 0.0, 0.0);
    for (k, &[s1, s2]) in sums.iter().enumerate() {
        let (x, w, lm) = (prep.xs[k], prep.wx[k], prep.lx[k]);
        let px = p * x;
        let ln_x = x.ln();
        let dpq = digamma(px + q);
        ll += w * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + px * ln_x) + (px - 1.0) * lm
            - (px + q) * s1;
        gp += x * (w * (dpq - digamma(px) + ln_x) + lm - s1);
        gq += w * (dpq - dg_q + ln_v) - s1;
        gv += w * q / v - (px + q) * s2;
    }
    (ll, [gp * p, gq * q, gv * v])
}

/// lifetimes' objective on log parameters: the mean negative log-likelihood per customer
/// plus the penalty, and its gradient.
fn objective(prep: &Prepared, pen: f64, theta: &[f64]) -> (f64, Vec<f64>) {
    let par = GammaGammaParams {
        p: theta[0].exp(),
        q: theta[1].exp(),
        v: theta[2].exp(),
    };
    let (ll, g) = log_likelihood_and_grad(prep, &par);
    let ps = [par.p, par.q, par.v];
    let w = prep.total_w;
    let value = -ll / w + pen * ps.iter().map(|v| v * v).sum::<f64>();
    let grad = (0..3)
        .map(|k| -g[k] / w + 2.0 * pen * ps[k] * ps[k])
        .collect();
    (value, grad)
}

fn prepare(freq: &[f64], monetary: &[f64], weights: Option<&[f64]>) -> Result<Prepared> {
    if freq.len() != monetary.len() {
        bail!(
            "Gamma-Gamma: {} frequencies but {} monetary values",
            freq.len(),
            monetary.len()
        );
    }
    if let Some(w) = weights {
        if w.len() != freq.len() {
            bail!(
                "Gamma-Gamma: {} weights for {} customers",
                w.len(),
                freq.len()
            );
        }
    }
    let mut xi = ValueIndex::default();
    let mut wx: Vec<f64> = Vec::new();
    let mut lx: Vec<f64> = Vec::new();
    // (sized by a first count: a growing vector would copy itself, into fresh memory)
    let repeat = (0..freq.len())
        .filter(|&i| freq[i] > 0.0 && weights.is_none_or(|w| w[i] > 0.0))
        .count();
    let mut rows = Vec::with_capacity(repeat);
    let mut total_w = 0.0;
    for i in 0..freq.len() {
        let (x, m) = (freq[i], monetary[i]);
        let w = weights.map_or(1.0, |w| w[i]);
        if !(x.is_finite() && w.is_finite()) || x < 0.0 || w < 0.0 {
            bail!("Gamma-Gamma: customer {i}: invalid frequency {x} or weight {w}");
        }
        if x == 0.0 || w == 0.0 {
            continue; // only customers with repeat purchases inform the model
        }
        if !(m.is_finite() && m > 0.0) {
            bail!("Gamma-Gamma: customer {i}: the mean repeat-purchase value must be finite and > 0, got {m}");
        }
        let ix = xi.index(x);
        wx.resize(xi.values.len(), 0.0);
        lx.resize(xi.values.len(), 0.0);
        wx[ix as usize] += w;
        lx[ix as usize] += w * m.ln();
        total_w += w;
        rows.push(Row { ix, xm: x * m, w });
    }
    let xs = xi.values;
    Ok(Prepared {
        rows,
        xs,
        wx,
        lx,
        total_w,
    })
}

/// Σ (weights included) of the Gamma-Gamma log-likelihood over customers with x > 0.
pub fn log_likelihood(
    params: &GammaGammaParams,
    freq: &[f64],
    monetary: &[f64],
    weights: Option<&[f64]>,
) -> Result<f64> {
    let prep = prepare(freq, monetary, weights)?;
    Ok(log_likelihood_and_grad(&prep, params).0)
}

/// [`log_likelihood`] as a function of the parameters, the data checked and prepared
/// once (for many evaluations, as a numeric Hessian makes).
pub fn log_likelihood_fn(
    freq: &[f64],
    monetary: &[f64],
    weights: Option<&[f64]>,
) -> Result<impl Fn(&GammaGammaParams) -> f64> {
    let prep = prepare(freq, monetary, weights)?;
    Ok(move |p: &GammaGammaParams| log_likelihood_and_grad(&prep, p).0)
}

/// The gradient of [`log_likelihood`] with respect to the natural parameters (p, q, v)
/// (analytic), the data checked and prepared once: for the Hessian of the standard errors.
pub fn gradient_fn(
    freq: &[f64],
    monetary: &[f64],
    weights: Option<&[f64]>,
) -> Result<impl Fn(&GammaGammaParams) -> [f64; 3]> {
    let prep = prepare(freq, monetary, weights)?;
    Ok(move |par: &GammaGammaParams| {
        let (_, g) = log_likelihood_and_grad(&prep, par);
        [g[0] / par.p, g[1] / par.q, g[2] / par.v]
    })
}

/// Fit the Gamma-Gamma model on the customers with x > 0 (others are skipped).
/// `monetary[i]` is the mean value of customer i's repeat purchases. Errors (never
/// panics) on invalid data, no repeat customers, non-convergence, or parameters that run
/// off to 0 or ∞.
pub fn fit(
    freq: &[f64],
    monetary: &[f64],
    weights: Option<&[f64]>,
    opts: &FitOptions,
) -> Result<GammaGammaFit> {
    opts.validate()?;
    let prep = prepare(freq, monetary, weights)?;
    if prep.rows.is_empty() {
        bail!("Gamma-Gamma: no customer with a repeat purchase (x > 0) to fit on");
    }
    let pen = opts.penalizer;
    // Warm start for big inputs on a systematic sample of the customers (see bgnbd::fit).
    let sp = if prep.rows.len() > super::WARM_START_ROWS {
        let step = prep.rows.len() / (super::WARM_START_ROWS / 4);
        let idx: Vec<usize> = (0..freq.len())
            .filter(|&i| freq[i] > 0.0)
            .step_by(step)
            .collect();
        let sf: Vec<f64> = idx.iter().map(|&i| freq[i]).collect();
        let sm: Vec<f64> = idx.iter().map(|&i| monetary[i]).collect();
        let sw: Option<Vec<f64>> = weights.map(|w| idx.iter().map(|&i| w[i]).collect());
        prepare(&sf, &sm, sw.as_deref())
            .ok()
            .filter(|sp| !sp.rows.is_empty())
    } else {
        None
    };
    let opt = super::fit_warm(
        3,
        &prep,
        sp.as_ref(),
        |p, th| objective(p, pen, th),
        opts,
        |lp| super::all_bounded(&lp[..2]),
    )
    .map_err(|e| anyhow!("Gamma-Gamma: {e}"))?;
    for (name, &v) in ["p", "q"].iter().zip(&opt.log_params) {
        if v.abs() > 1e5f64.ln() {
            bail!(
                "Gamma-Gamma: the data do not identify the model: {name} runs off to {:.3e}; a penalizer coefficient (e.g. 0.001) may help",
                v.exp()
            );
        }
    }
    let params = GammaGammaParams {
        p: opt.log_params[0].exp(),
        q: opt.log_params[1].exp(),
        v: opt.log_params[2].exp(),
    };
    let ll = log_likelihood_and_grad(&prep, &params).0;
    Ok(GammaGammaFit {
        params,
        log_likelihood: ll,
        lifetimes_negative_log_likelihood: opt.objective,
        iterations: opt.iterations,
        converged: true,
        grad_norm: opt.grad_norm,
        n_customers: prep.total_w,
        mean_is_finite: params.q > 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    // Hardie's note 025 estimates on the CDNOW data: p = 6.25, q = 3.74, γ = 15.44.
    const NOTE: GammaGammaParams = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    #[test]
    fn expected_average_profit_by_hand() {
        // population mean: 15.44 · 6.25 / 2.74
        assert!(rel(NOTE.population_mean(), 15.44 * 6.25 / 2.74) < 1e-15);
        // weighted average of the population mean and the customer's mean
        let (x, m) = (2.0, 30.0);
        let w = NOTE.p * x / (NOTE.p * x + NOTE.q - 1.0);
        let want = (1.0 - w) * NOTE.population_mean() + w * m;
        assert!(rel(NOTE.conditional_expected_average_profit(x, m), want) < 1e-14);
        // x = 0: the population mean, whatever m is
        assert_eq!(
            NOTE.conditional_expected_average_profit(0.0, f64::NAN),
            NOTE.population_mean()
        );
        // many purchases: close to the customer's own mean
        assert!(rel(NOTE.conditional_expected_average_profit(1e6, 42.0), 42.0) < 1e-4);
    }

    #[test]
    fn log_likelihood_single_customer_by_hand() {
        // x = 1: m ~ Gamma(p, ν), ν ~ Gamma(q, γ) → f(m) = Γ(p+q)/(Γ(p)Γ(q)) γ^q m^(p−1) / (m+γ)^(p+q)
        let GammaGammaParams { p, q, v } = NOTE;
        let m: f64 = 12.5;
        let want = ln_gamma(p + q) - ln_gamma(p) - ln_gamma(q) + q * v.ln() + (p - 1.0) * m.ln()
            - (p + q) * (m + v).ln();
        let got = log_likelihood(&NOTE, &[1.0], &[m], None).unwrap();
        assert!(rel(got, want) < 1e-14);
        // x = 0 customers are skipped
        let got0 = log_likelihood(&NOTE, &[1.0, 0.0], &[m, 0.0], None).unwrap();
        assert_eq!(got, got0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let rows = prepare(
            &[1.0, 2.0, 2.0, 7.0],
            &[10.0, 35.0, 12.0, 20.0],
            Some(&[1.0, 2.0, 1.0, 0.5]),
        )
        .unwrap();
        let th = [0.8, 0.4, 1.7];
        let at = |t: &[f64; 3]| GammaGammaParams {
            p: t[0].exp(),
            q: t[1].exp(),
            v: t[2].exp(),
        };
        let (_, g) = log_likelihood_and_grad(&rows, &at(&th));
        for k in 0..3 {
            let h = 1e-6;
            let (mut up, mut dn) = (th, th);
            up[k] += h;
            dn[k] -= h;
            let fd = (log_likelihood_and_grad(&rows, &at(&up)).0
                - log_likelihood_and_grad(&rows, &at(&dn)).0)
                / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()), "k={k}");
        }
    }

    #[test]
    fn errors_are_clear() {
        let o = FitOptions::default();
        let e = fit(&[0.0, 0.0], &[0.0, 0.0], None, &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no customer with a repeat purchase"), "{e}");
        let e = fit(&[1.0], &[-3.0], None, &o).unwrap_err().to_string();
        assert!(e.contains("must be finite and > 0"), "{e}");
        let e = fit(&[1.0], &[3.0, 4.0], None, &o).unwrap_err().to_string();
        assert!(e.contains("monetary values"), "{e}");
        let e = fit(&[f64::INFINITY], &[3.0], None, &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid frequency"), "{e}");
    }

    #[test]
    fn recovers_simulated_parameters() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Gamma};
        let truth = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let nu_d = Gamma::new(truth.q, 1.0 / truth.v).unwrap();
        let (mut xs, mut ms) = (Vec::new(), Vec::new());
        for i in 0..20_000 {
            let x = (1 + i % 6) as f64;
            let nu: f64 = nu_d.sample(&mut rng);
            let z = Gamma::new(truth.p, 1.0 / nu).unwrap();
            let m = (0..x as usize).map(|_| z.sample(&mut rng)).sum::<f64>() / x;
            xs.push(x);
            ms.push(m);
        }
        let f = fit(&xs, &ms, None, &FitOptions::default()).unwrap();
        assert!(f.mean_is_finite);
        let p = f.params;
        // p and γ are strongly correlated: ±20% each, the population mean to ±3%
        for (got, want) in [(p.p, truth.p), (p.q, truth.q), (p.v, truth.v)] {
            assert!(rel(got, want) < 0.2, "{p:?} vs {truth:?}");
        }
        assert!(rel(p.population_mean(), truth.population_mean()) < 0.03);
        // weights: duplicating every customer = weight 2, same parameters
        let w = vec![2.0; xs.len()];
        let f2 = fit(&xs, &ms, Some(&w), &FitOptions::default()).unwrap();
        assert!(rel(f2.params.p, p.p) < 1e-6);
        assert!(rel(f2.log_likelihood, 2.0 * f.log_likelihood) < 1e-9);
    }
}
