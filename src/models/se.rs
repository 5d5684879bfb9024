//! Standard errors of the maximum-likelihood fits and seeded parameter draws.
//!
//! The covariance of the estimates is the inverse of the observed information, −H, H the
//! Hessian of the *total* log-likelihood (weights included, no penalty) at the optimum,
//! in the natural parameters (r, α, a, b; not their logs). H is numeric: central second
//! differences of the log-likelihood with steps 1e-4 · |θ_i| (truncation error ~1e-8
//! relative, rounding ~1e-6 relative for log-likelihoods of order 1e4), and −H is inverted
//! through its Cholesky factor, which fails (an error) unless −H is positive definite.
//! lifetimes reports the same standard errors (it inverts the Hessian on log parameters
//! and maps the diagonal back by the delta method, which at the optimum is equivalent).
//!
//! For parametric-resampling intervals, [`draw_normal`] draws from a multivariate normal
//! with a given mean and covariance, reproducibly from a u64 seed (xoshiro256** seeded by
//! splitmix64, Box–Muller normals; no dependency), and [`draw_log_normal`] draws positive
//! parameters as exp of a normal on the log parameters (delta-method covariance).

use anyhow::{bail, Result};

use super::bgbb::{self, Bgbb, BgbbParams};
use super::bgnbd::{self, BgNbdParams};
use super::gamma_gamma::{self, GammaGammaParams};
use super::mbgnbd::{self, MbgNbdParams};
use super::pnbd::{self, ParetoNbdParams};
use super::Rows;

/// Standard errors and covariance of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardErrors {
    /// The point estimate (natural parameters, in the model's order).
    pub params: Vec<f64>,
    /// √diag(covariance).
    pub se: Vec<f64>,
    /// (−H)⁻¹, row-major k × k.
    pub covariance: Vec<Vec<f64>>,
    /// H, the Hessian of the total log-likelihood at `params`.
    pub hessian: Vec<Vec<f64>>,
}

/// Relative step of the numeric Hessian.
const HESS_STEP: f64 = 1e-4;

/// Hessian of `ll` at `at` by central differences (steps `HESS_STEP · |θ_i|`, or
/// `HESS_STEP` for θ_i = 0). Errors if `ll` is not finite at a point it needs.
pub fn numeric_hessian(ll: &dyn Fn(&[f64]) -> f64, at: &[f64]) -> Result<Vec<Vec<f64>>> {
    let k = at.len();
    let h: Vec<f64> = at
        .iter()
        .map(|v| {
            if *v == 0.0 {
                HESS_STEP
            } else {
                HESS_STEP * v.abs()
            }
        })
        .collect();
    let eval = |d: &[(usize, f64)]| -> Result<f64> {
        let mut p = at.to_vec();
        for &(i, s) in d {
            p[i] += s * h[i];
        }
        let v = ll(&p);
        if !v.is_finite() {
            bail!("the log-likelihood is not finite at {p:?} (needed for the Hessian)");
        }
        Ok(v)
    };
    let f0 = eval(&[])?;
    let mut hess = vec![vec![0.0; k]; k];
    for i in 0..k {
        let fp = eval(&[(i, 1.0)])?;
        let fm = eval(&[(i, -1.0)])?;
        hess[i][i] = (fp - 2.0 * f0 + fm) / (h[i] * h[i]);
        for j in 0..i {
            let pp = eval(&[(i, 1.0), (j, 1.0)])?;
            let pm = eval(&[(i, 1.0), (j, -1.0)])?;
            let mp = eval(&[(i, -1.0), (j, 1.0)])?;
            let mm = eval(&[(i, -1.0), (j, -1.0)])?;
            let v = (pp - pm - mp + mm) / (4.0 * h[i] * h[j]);
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    Ok(hess)
}

/// Lower-triangular Cholesky factor L of a symmetric positive-definite matrix (A = L Lᵀ);
/// an error if A is not (numerically) positive definite or not square.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indexes
pub fn cholesky(a: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let k = a.len();
    if a.iter().any(|row| row.len() != k) {
        bail!("the matrix is not square");
    }
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[i][j];
            for m in 0..j {
                s -= l[i][m] * l[j][m];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    bail!("the matrix is not positive definite (pivot {i} is {s:e})");
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Ok(l)
}

/// x with L Lᵀ x = b, for the Cholesky factor `l` of [`cholesky`]: forward, then back
/// substitution.
pub fn solve_cholesky(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let k = l.len();
    let mut y = vec![0.0; k];
    for i in 0..k {
        let s: f64 = (0..i).map(|m| l[i][m] * y[m]).sum();
        y[i] = (b[i] - s) / l[i][i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|m| l[m][i] * x[m]).sum();
        x[i] = (y[i] - s) / l[i][i];
    }
    x
}

/// Inverse of a symmetric positive-definite matrix through its Cholesky factor.
#[allow(clippy::needless_range_loop)] // matrix code reads best with indexes
pub fn inverse_spd(a: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let l = cholesky(a)?;
    let k = l.len();
    // L⁻¹ by forward substitution, then A⁻¹ = L⁻ᵀ L⁻¹
    let mut li = vec![vec![0.0; k]; k];
    for c in 0..k {
        for i in c..k {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for m in c..i {
                s -= l[i][m] * li[m][c];
            }
            li[i][c] = s / l[i][i];
        }
    }
    let mut inv = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..k {
            inv[i][j] = (i.max(j)..k).map(|m| li[m][i] * li[m][j]).sum();
        }
    }
    Ok(inv)
}

/// Standard errors from a log-likelihood over the natural parameters, at the optimum
/// `at`. Errors if the observed information is not positive definite (not a maximum, or
/// a parameter not identified).
pub fn from_log_likelihood(ll: &dyn Fn(&[f64]) -> f64, at: &[f64]) -> Result<StandardErrors> {
    from_hessian(numeric_hessian(ll, at)?, at)
}

/// Hessian from an analytic gradient of the total log-likelihood: central first
/// differences of the gradient (steps as [`numeric_hessian`]), symmetrised. Its rounding
/// error is ~ε·|∇ll|/h rather than ~ε·|ll|/h² (h ~ 1e-4·θ), which matters where a
/// parameter's curvature is slight (BG/BB's δ in the hundreds on day-level data).
pub fn hessian_from_gradient(
    grad: &dyn Fn(&[f64]) -> Vec<f64>,
    at: &[f64],
) -> Result<Vec<Vec<f64>>> {
    let k = at.len();
    let mut cols = Vec::with_capacity(k);
    for i in 0..k {
        let h = if at[i] == 0.0 {
            HESS_STEP
        } else {
            HESS_STEP * at[i].abs()
        };
        let at_step = |s: f64| -> Result<Vec<f64>> {
            let mut p = at.to_vec();
            p[i] += s * h;
            let g = grad(&p);
            if g.len() != k || !g.iter().all(|v| v.is_finite()) {
                bail!("the gradient is not finite at {p:?} (needed for the Hessian)");
            }
            Ok(g)
        };
        let (gp, gm) = (at_step(1.0)?, at_step(-1.0)?);
        cols.push(
            (0..k)
                .map(|j| (gp[j] - gm[j]) / (2.0 * h))
                .collect::<Vec<f64>>(),
        );
    }
    Ok((0..k)
        .map(|i| (0..k).map(|j| 0.5 * (cols[i][j] + cols[j][i])).collect())
        .collect())
}

/// Standard errors from the Hessian of the total log-likelihood at `at`.
pub fn from_hessian(hessian: Vec<Vec<f64>>, at: &[f64]) -> Result<StandardErrors> {
    let info: Vec<Vec<f64>> = hessian
        .iter()
        .map(|row| row.iter().map(|v| -v).collect())
        .collect();
    let covariance = inverse_spd(&info).map_err(|e| {
        anyhow::anyhow!("standard errors: the observed information is not positive definite, so the optimum is not a proper maximum ({e})")
    })?;
    let se = (0..at.len()).map(|i| covariance[i][i].sqrt()).collect();
    Ok(StandardErrors {
        params: at.to_vec(),
        se,
        covariance,
        hessian,
    })
}

/// Standard errors of a BG/NBD fit (order r, α, a, b), times in the data's unit.
pub fn bgnbd(params: &BgNbdParams, rows: Rows) -> Result<StandardErrors> {
    // (the rows grouped once for the repeated gradient evaluations)
    let grad = bgnbd::gradient_fn(&rows.grouped());
    let at = [params.r, params.alpha, params.a, params.b];
    let g = |p: &[f64]| {
        grad(&BgNbdParams {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        })
        .to_vec()
    };
    from_hessian(hessian_from_gradient(&g, &at)?, &at)
}

/// Standard errors of an MBG/NBD fit (order r, α, a, b).
pub fn mbgnbd(params: &MbgNbdParams, rows: Rows) -> Result<StandardErrors> {
    // (the rows grouped once for the repeated gradient evaluations)
    let grad = mbgnbd::gradient_fn(&rows.grouped());
    let at = [params.r, params.alpha, params.a, params.b];
    let g = |p: &[f64]| {
        grad(&MbgNbdParams {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        })
        .to_vec()
    };
    from_hessian(hessian_from_gradient(&g, &at)?, &at)
}

/// Standard errors of a Pareto/NBD fit (order r, α, s, β).
pub fn pnbd(params: &ParetoNbdParams, rows: Rows) -> Result<StandardErrors> {
    // (the rows grouped once for the repeated gradient evaluations)
    let grad = pnbd::gradient_fn(&rows.grouped());
    let at = [params.r, params.alpha, params.s, params.beta];
    let g = |p: &[f64]| {
        grad(&ParetoNbdParams {
            r: p[0],
            alpha: p[1],
            s: p[2],
            beta: p[3],
        })
        .to_vec()
    };
    from_hessian(hessian_from_gradient(&g, &at)?, &at)
}

/// Standard errors of a BG/BB fit (order α, β, γ, δ).
pub fn bgbb(params: &BgbbParams, data: &[Bgbb]) -> Result<StandardErrors> {
    let g = bgbb::group(data);
    let grad = |p: &[f64]| {
        bgbb::log_likelihood_gradient(
            &BgbbParams {
                alpha: p[0],
                beta: p[1],
                gamma: p[2],
                delta: p[3],
            },
            &g,
        )
        .to_vec()
    };
    let at = [params.alpha, params.beta, params.gamma, params.delta];
    from_hessian(hessian_from_gradient(&grad, &at)?, &at)
}

/// Standard errors of a Gamma-Gamma fit (order p, q, v), on the customers with x > 0.
pub fn gamma_gamma(
    params: &GammaGammaParams,
    freq: &[f64],
    monetary: &[f64],
    weights: Option<&[f64]>,
) -> Result<StandardErrors> {
    // (checked and prepared once for the Hessian's six gradients)
    let grad = gamma_gamma::gradient_fn(freq, monetary, weights)?;
    let at = [params.p, params.q, params.v];
    let g = |p: &[f64]| {
        grad(&GammaGammaParams {
            p: p[0],
            q: p[1],
            v: p[2],
        })
        .to_vec()
    };
    from_hessian(hessian_from_gradient(&g, &at)?, &at)
}

/// The covariance of the log parameters by the delta method: Σ_ij / (θ_i θ_j). Errors
/// if `cov` is not k × k for k parameters.
pub fn log_covariance(params: &[f64], cov: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let k = params.len();
    if cov.len() != k || cov.iter().any(|row| row.len() != k) {
        bail!("a covariance for {k} parameters must be {k} × {k}");
    }
    Ok(cov
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .map(|(j, v)| v / (params[i] * params[j]))
                .collect()
        })
        .collect())
}

/// A small, fast, seeded PRNG: xoshiro256** (Blackman & Vigna) with its state filled by
/// splitmix64 from a u64 seed. Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    /// the second Box–Muller normal, kept for the next call
    spare: Option<f64>,
}

/// splitmix64 step (also usable on its own as a seed expander).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s, spare: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, both values used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so that ln u1 is finite
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let rad = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(rad * s);
        rad * c
    }
}

/// `n` draws from N(mean, cov), reproducible from `seed`: mean + L z with L the Cholesky
/// factor of `cov` and z standard normals from [`Rng`]. Errors if `cov` does not match
/// `mean` or is not positive definite.
pub fn draw_normal(mean: &[f64], cov: &[Vec<f64>], n: usize, seed: u64) -> Result<Vec<Vec<f64>>> {
    if cov.len() != mean.len() {
        bail!(
            "draws: a {}-dimensional mean with a {}-row covariance",
            mean.len(),
            cov.len()
        );
    }
    let l = cholesky(cov).map_err(|e| anyhow::anyhow!("draws: covariance: {e}"))?;
    let k = mean.len();
    let mut rng = Rng::new(seed);
    Ok((0..n)
        .map(|_| {
            let z: Vec<f64> = (0..k).map(|_| rng.normal()).collect();
            (0..k)
                .map(|i| mean[i] + (0..=i).map(|j| l[i][j] * z[j]).sum::<f64>())
                .collect()
        })
        .collect())
}

/// `n` draws of positive parameters: exp of N(ln params, delta-method log covariance of
/// `cov`), reproducible from `seed`. Errors if a parameter is not positive or the
/// covariance is not positive definite.
pub fn draw_log_normal(
    params: &[f64],
    cov: &[Vec<f64>],
    n: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>> {
    if params.iter().any(|p| !(*p > 0.0 && p.is_finite())) {
        bail!("draws: the parameters must be finite and > 0, got {params:?}");
    }
    let mean: Vec<f64> = params.iter().map(|p| p.ln()).collect();
    let lc = log_covariance(params, cov)?;
    let d = draw_normal(&mean, &lc, n, seed)?;
    Ok(d.into_iter()
        .map(|row| row.into_iter().map(f64::exp).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::mbgnbd::tests::{cdnow, rel, simulated};
    use crate::models::FitOptions;

    #[test]
    fn bgnbd_cdnow_matches_lifetimes() {
        let c = cdnow();
        let data = c.summary.rows();
        let f = bgnbd::fit(&data, &FitOptions::default()).unwrap();
        let s = bgnbd(&f.params, Rows::Any(&data)).unwrap();
        let want = c.bgnbd["standard_errors"].clone();
        // lifetimes' values: r 0.01256, α 0.3782, a 0.1857, b 0.7054
        for (k, name) in ["r", "alpha", "a", "b"].iter().enumerate() {
            let w = want[name].as_f64().unwrap();
            assert!(rel(s.se[k], w) < 0.01, "{name}: {} vs {w}", s.se[k]);
        }
        for (k, w) in [0.01256, 0.3782, 0.1857, 0.7054].iter().enumerate() {
            assert!(rel(s.se[k], *w) < 0.01, "{k}: {} vs {w}", s.se[k]);
        }
        eprintln!("BG/NBD CDNOW SEs {:?}", s.se);
        // symmetric, and covariance × information = identity
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(s.covariance[i][j], s.covariance[j][i]);
                let prod: f64 = (0..4).map(|m| s.covariance[i][m] * -s.hessian[m][j]).sum();
                assert!((prod - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn pnbd_cdnow_matches_the_published_values() {
        let c = cdnow();
        let data = c.summary.rows();
        let f = pnbd::fit(&data, &FitOptions::default()).unwrap();
        let s = pnbd(&f.params, Rows::Any(&data)).unwrap();
        eprintln!("Pareto/NBD CDNOW SEs {:?}", s.se);
        for (k, w) in [0.0476, 0.8427, 0.1873, 6.2105].iter().enumerate() {
            assert!(rel(s.se[k], *w) < 0.05, "{k}: {} vs {w}", s.se[k]);
        }
    }

    #[test]
    fn mbgnbd_matches_lifetimes() {
        let c = cdnow();
        let data = c.summary.rows();
        let f = mbgnbd::fit(&data, &FitOptions::default()).unwrap();
        let s = mbgnbd(&f.params, Rows::Any(&data)).unwrap();
        eprintln!("MBG/NBD CDNOW SEs {:?}", s.se);
        for (k, name) in ["r", "alpha", "a", "b"].iter().enumerate() {
            let w = c.mbgnbd.standard_errors[*name];
            assert!(rel(s.se[k], w) < 0.01, "{name}: {} vs {w}", s.se[k]);
        }
        let sim = simulated();
        let r = &sim.mbgnbd;
        let data = r.summary.as_ref().unwrap().rows();
        let f = mbgnbd::fit(&data, &FitOptions::default()).unwrap();
        let s = mbgnbd(&f.params, Rows::Any(&data)).unwrap();
        for (k, name) in ["r", "alpha", "a", "b"].iter().enumerate() {
            let w = r.standard_errors[*name];
            assert!(rel(s.se[k], w) < 0.01, "{name}: {} vs {w}", s.se[k]);
        }
    }

    /// BG/BB rows from a reference file's columns x, t_x, n and weight.
    fn bgbb_rows(v: &serde_json::Value) -> Vec<Bgbb> {
        let col = |k: &str| -> Vec<f64> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (x, tx, n, w) = (col("x"), col("t_x"), col("n"), col("weight"));
        (0..x.len())
            .map(|i| Bgbb {
                x: x[i],
                t_x: tx[i],
                n: n[i],
                weight: w[i],
            })
            .collect()
    }

    #[test]
    fn bgbb_donations_match_lifetimes() {
        let j: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/reference/models_donations.json"))
                .unwrap();
        let data = bgbb_rows(&j["summary"]);
        let f = bgbb::fit(&data, &FitOptions::default()).unwrap();
        let s = bgbb(&f.params, &data).unwrap();
        eprintln!("BG/BB donations SEs {:?}", s.se);
        for (k, name) in ["alpha", "beta", "gamma", "delta"].iter().enumerate() {
            let want = j["standard_errors"][name].as_f64().unwrap();
            assert!(rel(s.se[k], want) < 0.01, "{name}: {} vs {want}", s.se[k]);
        }
    }

    /// Day-level histories (hundreds of opportunities each): the likelihood and the
    /// standard errors against mpmath at 30 digits (tests/reference/bgbb_days_reference.py),
    /// where rounding drift over the opportunities would show in the numeric Hessian.
    #[test]
    fn bgbb_day_level_matches_mpmath() {
        let j: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/reference/bgbb_days.json")).unwrap();
        let data = bgbb_rows(&j["histories"]);
        let p = |k: &str| j["params"][k].as_f64().unwrap();
        let params = BgbbParams {
            alpha: p("alpha"),
            beta: p("beta"),
            gamma: p("gamma"),
            delta: p("delta"),
        };
        let ll = bgbb::log_likelihood(&params, &data);
        let want = j["log_likelihood"].as_f64().unwrap();
        assert!(rel(ll, want) < 1e-12, "{ll} vs {want}");
        let s = bgbb(&params, &data).unwrap();
        eprintln!("BG/BB day-level SEs {:?}", s.se);
        for (k, name) in ["alpha", "beta", "gamma", "delta"].iter().enumerate() {
            let want = j["standard_errors"][name].as_f64().unwrap();
            assert!(rel(s.se[k], want) < 1e-5, "{name}: {} vs {want}", s.se[k]);
        }
    }

    #[test]
    fn gamma_gamma_cdnow_matches_lifetimes() {
        let c = cdnow();
        let gg = &c.gamma_gamma;
        let col = |k: &str| -> Vec<f64> {
            gg[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (freq, m) = (col("x"), col("m"));
        let f = gamma_gamma::fit(&freq, &m, None, &FitOptions::default()).unwrap();
        let s = gamma_gamma(&f.params, &freq, &m, None).unwrap();
        eprintln!("Gamma-Gamma CDNOW: {:?} SEs {:?}", f.params, s.se);
        for (k, name) in ["p", "q", "v"].iter().enumerate() {
            let want = gg["standard_errors"][name].as_f64().unwrap();
            assert!(rel(s.se[k], want) < 0.01, "{name}: {} vs {want}", s.se[k]);
        }
        assert!(gamma_gamma(&f.params, &freq, &m[1..], None).is_err());
    }

    /// The Hessians from the models' analytic gradients equal the second differences of
    /// their log-likelihoods (the CDNOW sample, every model at its fit): the gradients are
    /// the likelihoods' and on the natural scale.
    #[test]
    fn gradient_hessians_equal_likelihood_second_differences() {
        let c = cdnow();
        let data = c.summary.rows();
        let opts = FitOptions::default();
        let close = |a: &[Vec<f64>], b: &[Vec<f64>], what: &str| {
            let scale = b.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            for (ra, rb) in a.iter().zip(b) {
                for (x, y) in ra.iter().zip(rb) {
                    assert!((x - y).abs() < 1e-4 * scale, "{what}: {a:?} vs {b:?}");
                }
            }
        };
        use crate::models::purchase::{Fitted, Kind};
        for kind in [Kind::BgNbd, Kind::MbgNbd, Kind::ParetoNbd] {
            let f = Fitted::fit(kind, &data, &opts).unwrap();
            let at: Vec<f64> = f.params().iter().map(|(_, v)| *v).collect();
            let ll = |p: &[f64]| match kind {
                Kind::BgNbd => {
                    let q = BgNbdParams {
                        r: p[0],
                        alpha: p[1],
                        a: p[2],
                        b: p[3],
                    };
                    bgnbd::log_likelihood(&q, &data)
                }
                Kind::MbgNbd => {
                    let q = MbgNbdParams {
                        r: p[0],
                        alpha: p[1],
                        a: p[2],
                        b: p[3],
                    };
                    mbgnbd::log_likelihood(&q, &data)
                }
                _ => {
                    let q = ParetoNbdParams {
                        r: p[0],
                        alpha: p[1],
                        s: p[2],
                        beta: p[3],
                    };
                    pnbd::log_likelihood(&q, &data)
                }
            };
            close(
                &f.standard_errors(Rows::Any(&data)).unwrap().hessian,
                &numeric_hessian(&ll, &at).unwrap(),
                kind.name(),
            );
        }
        let gg = &c.gamma_gamma;
        let col = |k: &str| -> Vec<f64> {
            gg[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (freq, m) = (col("x"), col("m"));
        let f = gamma_gamma::fit(&freq, &m, None, &opts).unwrap().params;
        let ll = |p: &[f64]| {
            let q = GammaGammaParams {
                p: p[0],
                q: p[1],
                v: p[2],
            };
            gamma_gamma::log_likelihood(&q, &freq, &m, None).unwrap()
        };
        close(
            &gamma_gamma(&f, &freq, &m, None).unwrap().hessian,
            &numeric_hessian(&ll, &[f.p, f.q, f.v]).unwrap(),
            "gamma_gamma",
        );
    }

    #[test]
    fn numeric_hessian_of_a_quadratic_and_a_saddle() {
        // the numeric Hessian of a quadratic is exact
        let ll = |p: &[f64]| -(p[0] - 1.0).powi(2) / (2.0 * 0.04) - (p[1] - 3.0).powi(2) / 2.0;
        let s = from_log_likelihood(&ll, &[1.0, 3.0]).unwrap();
        assert!(rel(s.se[0], 0.2) < 1e-6 && rel(s.se[1], 1.0) < 1e-6);
        // not a maximum: an error
        let bad = |p: &[f64]| p[0] * p[0] + p[1];
        assert!(from_log_likelihood(&bad, &[1.0, 3.0]).is_err());
        let nan = |_: &[f64]| f64::NAN;
        assert!(from_log_likelihood(&nan, &[1.0]).is_err());
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // matrix code reads best with indexes
    fn cholesky_and_inverse() {
        let a = vec![
            vec![4.0, 2.0, 0.4],
            vec![2.0, 5.0, 1.0],
            vec![0.4, 1.0, 3.0],
        ];
        let inv = inverse_spd(&a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let p: f64 = (0..3).map(|m| a[i][m] * inv[m][j]).sum();
                assert!((p - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
        assert!(cholesky(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_err());
        assert!(cholesky(&[vec![1.0, 2.0]]).is_err());
        assert!(cholesky(&[vec![f64::NAN]]).is_err());
    }

    #[test]
    fn rng_is_reproducible_and_normal() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
        let mut r = Rng::new(1);
        let n = 200_000;
        let z: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
        let u = Rng::new(5).uniform();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn draws_have_the_requested_covariance() {
        let mean = [1.0, -2.0, 0.5];
        let cov = vec![
            vec![0.04, 0.01, 0.0],
            vec![0.01, 0.09, -0.02],
            vec![0.0, -0.02, 0.16],
        ];
        let d = draw_normal(&mean, &cov, 100_000, 7).unwrap();
        assert_eq!(d, draw_normal(&mean, &cov, 100_000, 7).unwrap());
        let n = d.len() as f64;
        for i in 0..3 {
            let mi = d.iter().map(|r| r[i]).sum::<f64>() / n;
            assert!((mi - mean[i]).abs() < 0.005, "{i}: {mi}");
            for j in 0..3 {
                let mj = d.iter().map(|r| r[j]).sum::<f64>() / n;
                let c = d.iter().map(|r| (r[i] - mi) * (r[j] - mj)).sum::<f64>() / n;
                assert!(
                    (c - cov[i][j]).abs() < 0.003,
                    "{i}{j}: {c} vs {}",
                    cov[i][j]
                );
            }
        }
        assert!(draw_normal(&mean, &cov[..2], 1, 0).is_err());
        // log-normal draws: positive, centred (in logs) on the parameters
        let p = [0.24, 4.4, 0.79, 2.4];
        let c = vec![
            vec![1.6e-4, 0.0, 0.0, 0.0],
            vec![0.0, 0.14, 0.0, 0.0],
            vec![0.0, 0.0, 0.034, 0.0],
            vec![0.0, 0.0, 0.0, 0.5],
        ];
        let d = draw_log_normal(&p, &c, 20_000, 3).unwrap();
        assert!(d.iter().all(|r| r.iter().all(|v| *v > 0.0)));
        let ml = d.iter().map(|r| r[0].ln()).sum::<f64>() / d.len() as f64;
        assert!((ml - p[0].ln()).abs() < 0.005);
        assert!(draw_log_normal(&[-1.0, 1.0, 1.0, 1.0], &c, 1, 0).is_err());
        assert!(draw_log_normal(&p[..3], &c, 1, 0).is_err());
        assert!(draw_normal(&p, &vec![vec![1.0; 3]; 4], 1, 0).is_err());
    }
}
