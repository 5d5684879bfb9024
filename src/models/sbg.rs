//! Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, "How
//! to project customer retention"), fitted by maximum likelihood on survival counts.
//!
//! Each subscriber renews at the end of each period until they cancel; a subscriber's
//! churn probability θ is the same every period and θ ~ Beta(α, β) across subscribers.
//! The lifetime T (periods until cancellation, T ≥ 1) then has
//!
//! ```text
//! P(T = t) = B(α + 1, β + t − 1) / B(α, β)        t = 1, 2, …
//! S(t)     = P(T > t) = B(α, β + t) / B(α, β)      S(0) = 1
//! r(t)     = S(t) / S(t − 1) = (β + t − 1) / (α + β + t − 1)
//! ```
//!
//! The data are survival counts: per cohort, n_0 subscribers at the start and n_t still
//! subscribed after t periods, observed up to the cohort's age (right-censored there).
//! They pool into `churned[t]` = Σ (n_{t−1} − n_t) and `censored[t]` = Σ n_T of the
//! cohorts of age T = t, and ln L = Σ_t churned[t] ln P(T = t) + Σ_t censored[t] ln S(t),
//! every term in log space (ln Γ). The fit minimises −ln L / N (N subscribers) over
//! (ln α, ln β) with the analytic gradient (digamma); standard errors come from the
//! inverse observed information in the natural parameters ([`super::se`]).
//!
//! DERL (Fader & Hardie 2010, "Customer-base valuation in a contractual setting"): the
//! expected discounted number of further periods paid by a subscriber who has survived
//! k periods, evaluated just before the renewal decision, at a discount rate d per period:
//! Σ_{m ≥ 1} S(k + m)/S(k) · (1 + d)^−(m − 1) = B(α, β+k+1)/B(α, β+k) · ₂F₁(1, β+k+1;
//! α+β+k+1; 1/(1+d)), summed here term by term.

use anyhow::{anyhow, bail, Result};

use super::se::{self, StandardErrors};
use super::special::{digamma, ln_gamma};
use super::{minimise, FitOptions};

/// sBG parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SbgParams {
    pub alpha: f64,
    pub beta: f64,
}

/// Pooled survival counts of one or more cohorts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SurvivalCounts {
    /// `churned[t]`: subscribers who cancelled in period t (t ≥ 1; `churned[0]` is 0).
    pub churned: Vec<f64>,
    /// `censored[t]`: subscribers still subscribed at the end of the observation, t
    /// periods after they started.
    pub censored: Vec<f64>,
}

impl SurvivalCounts {
    /// Add one cohort: `alive[0]` subscribers at the start, `alive[t]` still subscribed
    /// after t periods (non-increasing), observed up to t = alive.len() − 1.
    pub fn add_cohort(&mut self, alive: &[f64]) -> Result<()> {
        let Some(&n0) = alive.first() else {
            return Ok(());
        };
        for (t, &n) in alive.iter().enumerate() {
            if !(n.is_finite() && n >= 0.0) {
                bail!("sBG: count {n} after {t} periods is not a non-negative number");
            }
            if t > 0 && n > alive[t - 1] {
                bail!(
                    "sBG: the survivors increase from {} to {n} after {t} periods (survival counts never increase)",
                    alive[t - 1]
                );
            }
        }
        if n0 == 0.0 {
            return Ok(());
        }
        let age = alive.len() - 1;
        let need = age + 1;
        if self.churned.len() < need {
            self.churned.resize(need, 0.0);
            self.censored.resize(need, 0.0);
        }
        for t in 1..=age {
            self.churned[t] += alive[t - 1] - alive[t];
        }
        self.censored[age] += alive[age];
        Ok(())
    }

    /// Subscribers in the data.
    pub fn subscribers(&self) -> f64 {
        self.churned.iter().sum::<f64>() + self.censored.iter().sum::<f64>()
    }
}

/// A fitted sBG model.
#[derive(Debug, Clone, PartialEq)]
pub struct SbgFit {
    pub params: SbgParams,
    /// ln L at the optimum.
    pub log_likelihood: f64,
    pub iterations: u64,
    pub grad_norm: f64,
    /// Subscribers in the data (N).
    pub subscribers: f64,
}

/// ln B(p, q).
fn ln_beta(p: f64, q: f64) -> f64 {
    ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
}

impl SbgParams {
    /// S(t) = P(T > t) = B(α, β + t) / B(α, β).
    pub fn survival(&self, t: f64) -> f64 {
        (ln_beta(self.alpha, self.beta + t) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// P(T = t) = B(α + 1, β + t − 1) / B(α, β), t ≥ 1.
    pub fn churn_probability(&self, t: f64) -> f64 {
        (ln_beta(self.alpha + 1.0, self.beta + t - 1.0) - ln_beta(self.alpha, self.beta)).exp()
    }

    /// r(t) = S(t) / S(t − 1) = (β + t − 1) / (α + β + t − 1), t ≥ 1: the share of the
    /// subscribers alive after t − 1 periods who renew for period t + 1.
    pub fn retention(&self, t: f64) -> f64 {
        (self.beta + t - 1.0) / (self.alpha + self.beta + t - 1.0)
    }

    /// DERL for a subscriber who has survived `k` periods: Σ_{m ≥ 1} S(k+m)/S(k) ·
    /// (1+d)^−(m−1), in periods. Needs d > 0 (the sum diverges at d = 0 when α ≤ 1).
    pub fn derl(&self, k: f64, discount: f64) -> Result<f64> {
        if !(discount.is_finite() && discount > 0.0) {
            bail!("sBG: DERL needs a discount rate > 0, got {discount}");
        }
        let x = 1.0 / (1.0 + discount);
        // term m = S(k+m)/S(k) · x^(m−1); term 1 = r(k+1), each next one × r(k+m) · x.
        let mut term = self.retention(k + 1.0);
        let mut sum: f64 = 0.0;
        let mut m: f64 = 1.0;
        while term > 1e-17 * sum.max(1e-300) {
            sum += term;
            m += 1.0;
            term *= self.retention(k + m) * x;
            if m > 1e8 {
                bail!("sBG: DERL did not converge (discount rate {discount} too small)");
            }
        }
        Ok(sum)
    }
}

/// ln L and its gradient with respect to (α, β).
fn ll_grad(p: &SbgParams, d: &SurvivalCounts) -> (f64, [f64; 2]) {
    let SbgParams { alpha: a, beta: b } = *p;
    let lb0 = ln_beta(a, b);
    let (da0, db0) = (digamma(a) - digamma(a + b), digamma(b) - digamma(a + b));
    let mut ll = 0.0;
    let mut g = [0.0; 2];
    for (t, &n) in d.churned.iter().enumerate().skip(1) {
        if n == 0.0 {
            continue;
        }
        let t = t as f64;
        ll += n * (ln_beta(a + 1.0, b + t - 1.0) - lb0);
        let dab = digamma(a + b + t);
        g[0] += n * (digamma(a + 1.0) - dab - da0);
        g[1] += n * (digamma(b + t - 1.0) - dab - db0);
    }
    for (t, &n) in d.censored.iter().enumerate().skip(1) {
        if n == 0.0 {
            continue;
        }
        let t = t as f64;
        ll += n * (ln_beta(a, b + t) - lb0);
        let dab = digamma(a + b + t);
        g[0] += n * (digamma(a) - dab - da0);
        g[1] += n * (digamma(b + t) - dab - db0);
    }
    (ll, g)
}

/// ln L of the counts at `params`.
pub fn log_likelihood(params: &SbgParams, data: &SurvivalCounts) -> f64 {
    ll_grad(params, data).0
}

/// Fit α and β by maximum likelihood. Errors (never panics) when there is nobody to fit,
/// nobody was observed past period 0, nobody churned or everybody churned at once (the
/// model is then not identified), and when the fit does not converge.
pub fn fit(data: &SurvivalCounts, opts: &FitOptions) -> Result<SbgFit> {
    let n = data.subscribers();
    let observed: f64 =
        data.churned.iter().sum::<f64>() + data.censored.iter().skip(1).sum::<f64>();
    if !(n > 0.0 && n.is_finite()) || observed == 0.0 {
        bail!("sBG: no subscriber was observed for a whole period, so there is nothing to fit");
    }
    if data.churned.iter().all(|c| *c == 0.0) {
        bail!("sBG: nobody churned, so the churn probabilities cannot be estimated");
    }
    let pen = opts.penalizer;
    let objective = |th: &[f64]| -> (f64, Vec<f64>) {
        let p = SbgParams {
            alpha: th[0].exp(),
            beta: th[1].exp(),
        };
        let (ll, g) = ll_grad(&p, data);
        let value = -ll / n + pen * (p.alpha * p.alpha + p.beta * p.beta);
        let grad = vec![
            (-g[0] / n + 2.0 * pen * p.alpha) * p.alpha,
            (-g[1] / n + 2.0 * pen * p.beta) * p.beta,
        ];
        (value, grad)
    };
    // Without heterogeneity the likelihood rises towards α, β → ∞ (at a fixed α/(α+β)):
    // no finite maximum. Say so, with the constant churn rate that then fits.
    let unidentified = |why: String| {
        let exposure: f64 = (1..data.churned.len())
            .map(|t| t as f64 * (data.churned[t] + data.censored[t]))
            .sum();
        let theta = data.churned.iter().sum::<f64>() / exposure;
        anyhow!(
            "sBG: the data do not identify the model ({why}): the churn rate does not \
             appear to vary across subscribers, and a constant churn probability of \
             {theta:.4} per period (the geometric model, the limit α, β → ∞) fits them \
             as well; try another --period or more cohorts"
        )
    };
    let opt = minimise(objective, vec![0.0, 0.0], opts)
        .map_err(|_| unidentified("the fit finds no finite maximum".into()))?;
    super::check_identified("sBG", &["alpha", "beta"], &opt.log_params)
        .map_err(|_| unidentified("alpha and beta run off to infinity".into()))?;
    let params = SbgParams {
        alpha: opt.log_params[0].exp(),
        beta: opt.log_params[1].exp(),
    };
    Ok(SbgFit {
        params,
        log_likelihood: log_likelihood(&params, data),
        iterations: opt.iterations,
        grad_norm: opt.grad_norm,
        subscribers: n,
    })
}

/// Standard errors of (α, β): the inverse of the observed information at the optimum.
pub fn standard_errors(params: &SbgParams, data: &SurvivalCounts) -> Result<StandardErrors> {
    let ll = |p: &[f64]| {
        log_likelihood(
            &SbgParams {
                alpha: p[0],
                beta: p[1],
            },
            data,
        )
    };
    se::from_log_likelihood(&ll, &[params.alpha, params.beta])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::special::hyp2f1;

    /// Fader & Hardie (2007), 1,000 subscribers followed for 7 years.
    const HIGH_END: [f64; 8] = [1000.0, 869.0, 743.0, 653.0, 593.0, 551.0, 517.0, 491.0];
    const REGULAR: [f64; 8] = [1000.0, 631.0, 468.0, 382.0, 326.0, 289.0, 262.0, 241.0];

    fn fitted(series: &[f64]) -> SbgFit {
        let mut d = SurvivalCounts::default();
        d.add_cohort(series).unwrap();
        fit(&d, &FitOptions::default()).unwrap()
    }

    #[test]
    fn high_end_as_published() {
        let f = fitted(&HIGH_END);
        assert!((f.params.alpha - 0.668).abs() < 5e-4, "{:?}", f.params);
        assert!((f.params.beta - 3.806).abs() < 5e-4, "{:?}", f.params);
        // The published projection of years 8–12.
        for (t, s) in [
            (8.0, 0.4604),
            (9.0, 0.4358),
            (10.0, 0.4142),
            (11.0, 0.3951),
            (12.0, 0.3780),
        ] {
            let got = f.params.survival(t);
            assert!((got - s).abs() < 5e-5, "S({t}) = {got}, published {s}");
        }
        assert_eq!(f.subscribers, 1000.0);
    }

    #[test]
    fn regular_as_published() {
        let f = fitted(&REGULAR);
        assert!((f.params.alpha - 0.704).abs() < 5e-4, "{:?}", f.params);
        assert!((f.params.beta - 1.182).abs() < 5e-4, "{:?}", f.params);
    }

    #[test]
    fn likelihood_by_hand() {
        // One cohort of 10: 3 churn in period 1, 2 in period 2, 5 censored at t = 2.
        let mut d = SurvivalCounts::default();
        d.add_cohort(&[10.0, 7.0, 5.0]).unwrap();
        assert_eq!(d.churned, vec![0.0, 3.0, 2.0]);
        assert_eq!(d.censored, vec![0.0, 0.0, 5.0]);
        let p = SbgParams {
            alpha: 1.0,
            beta: 1.0,
        };
        // θ ~ U(0,1): P(T=1) = 1/2, P(T=2) = 1/6, S(2) = 1/3.
        let want = 3.0 * 0.5f64.ln() + 2.0 * (1.0f64 / 6.0).ln() + 5.0 * (1.0f64 / 3.0).ln();
        assert!((log_likelihood(&p, &d) - want).abs() < 1e-12);
        assert!((p.churn_probability(2.0) - 1.0 / 6.0).abs() < 1e-14);
        assert!((p.survival(2.0) - 1.0 / 3.0).abs() < 1e-14);
        assert!((p.retention(2.0) - 2.0 / 3.0).abs() < 1e-14);
        // Survival is the product of the retention rates.
        let q = SbgParams {
            alpha: 0.668,
            beta: 3.806,
        };
        let prod: f64 = (1..=12).map(|t| q.retention(t as f64)).product();
        assert!((q.survival(12.0) - prod).abs() < 1e-13);
    }

    #[test]
    fn gradient_matches_differences() {
        let mut d = SurvivalCounts::default();
        d.add_cohort(&HIGH_END).unwrap();
        d.add_cohort(&REGULAR[..5]).unwrap();
        let p = SbgParams {
            alpha: 0.9,
            beta: 2.1,
        };
        let (_, g) = ll_grad(&p, &d);
        let h = 1e-6;
        let fa = |a: f64| log_likelihood(&SbgParams { alpha: a, ..p }, &d);
        let fb = |b: f64| log_likelihood(&SbgParams { beta: b, ..p }, &d);
        let na = (fa(p.alpha + h) - fa(p.alpha - h)) / (2.0 * h);
        let nb = (fb(p.beta + h) - fb(p.beta - h)) / (2.0 * h);
        assert!(
            (g[0] - na).abs() < 1e-4 * na.abs().max(1.0),
            "{} {na}",
            g[0]
        );
        assert!(
            (g[1] - nb).abs() < 1e-4 * nb.abs().max(1.0),
            "{} {nb}",
            g[1]
        );
    }

    #[test]
    fn standard_errors_are_positive_and_shrink_with_data() {
        let mut one = SurvivalCounts::default();
        one.add_cohort(&HIGH_END).unwrap();
        let f1 = fit(&one, &FitOptions::default()).unwrap();
        let s1 = standard_errors(&f1.params, &one).unwrap();
        let ten: Vec<f64> = HIGH_END.iter().map(|v| v * 10.0).collect();
        let mut many = SurvivalCounts::default();
        many.add_cohort(&ten).unwrap();
        let f10 = fit(&many, &FitOptions::default()).unwrap();
        let s10 = standard_errors(&f10.params, &many).unwrap();
        // Ten times the subscribers: the same estimate, standard errors / √10.
        assert!((f10.params.alpha - f1.params.alpha).abs() < 1e-5);
        for i in 0..2 {
            assert!(s1.se[i] > 0.0 && s1.se[i].is_finite());
            assert!(
                (s1.se[i] / s10.se[i] - 10f64.sqrt()).abs() < 1e-3,
                "{s1:?} {s10:?}"
            );
        }
    }

    #[test]
    fn derl_is_the_closed_form() {
        let p = SbgParams {
            alpha: 0.668,
            beta: 3.806,
        };
        for (k, d) in [(0.0, 0.1), (3.0, 0.1), (7.0, 0.05), (0.0, 0.01)] {
            let x = 1.0 / (1.0 + d);
            let lead = (ln_beta(p.alpha, p.beta + k + 1.0) - ln_beta(p.alpha, p.beta + k)).exp();
            let closed =
                lead * hyp2f1(1.0, p.beta + k + 1.0, p.alpha + p.beta + k + 1.0, x).unwrap();
            let got = p.derl(k, d).unwrap();
            assert!(
                (got - closed).abs() < 1e-9 * closed,
                "k {k} d {d}: {got} vs {closed}"
            );
        }
        // Survivors are better risks: DERL grows with the periods survived.
        assert!(p.derl(5.0, 0.1).unwrap() > p.derl(0.0, 0.1).unwrap());
        assert!(p.derl(0.0, 0.0).is_err());
    }

    #[test]
    fn unidentified_and_bad_counts_are_errors() {
        let mut d = SurvivalCounts::default();
        d.add_cohort(&[10.0, 10.0, 10.0]).unwrap();
        assert!(fit(&d, &FitOptions::default()).is_err());
        let mut e = SurvivalCounts::default();
        assert!(e.add_cohort(&[10.0, 11.0]).is_err());
        assert!(e.add_cohort(&[10.0, f64::NAN]).is_err());
        e.add_cohort(&[5.0]).unwrap();
        assert!(fit(&e, &FitOptions::default()).is_err());
    }
}
