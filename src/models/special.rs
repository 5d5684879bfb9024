//! Special functions for the BG/NBD and Gamma-Gamma models: log-gamma (from `libm`),
//! digamma, and the Gaussian hypergeometric function 2F1 evaluated in log space.
//!
//! No well-kept Rust crate provides 2F1, so it is written here: the power series with a
//! tail-bound convergence check, Pfaff's transformation for z < 0 and the linear
//! 1 − z transformation (Abramowitz & Stegun 15.3.6) close to z = 1.

/// ln Γ(x) for x > 0 (for x ≤ 0 the log of |Γ(x)|).
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ln |Γ(x)| and the sign of Γ(x); the sign is 0 at the poles (x = 0, −1, −2, …).
fn ln_gamma_signed(x: f64) -> (f64, f64) {
    if x <= 0.0 && x == x.floor() {
        return (f64::INFINITY, 0.0);
    }
    let (v, s) = libm::lgamma_r(x);
    (v, if s < 0 { -1.0 } else { 1.0 })
}

/// Digamma ψ(x) = d/dx ln Γ(x). Relative accuracy ~1e-14 for x > 0; NaN at the poles.
pub fn digamma(x: f64) -> f64 {
    if !x.is_finite() {
        return if x == f64::INFINITY { x } else { f64::NAN };
    }
    if x <= 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // reflection: ψ(1 − x) − ψ(x) = π cot(πx)
        let pi = std::f64::consts::PI;
        return digamma(1.0 - x) - pi / (pi * x).tan();
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 12.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    // asymptotic series: ln x − 1/(2x) − Σ B_2k / (2k x^2k), k = 1..7
    let series = x2
        * (1.0 / 12.0
            - x2 * (1.0 / 120.0
                - x2 * (1.0 / 252.0
                    - x2 * (1.0 / 240.0
                        - x2 * (1.0 / 132.0 - x2 * (691.0 / 32760.0 - x2 / 12.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// A real number kept as sign × exp(ln_abs), so that 2F1 values far beyond f64's range
/// (e.g. (1 − z)^(c − a − b) with large parameters) can be combined without overflow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogValue {
    /// −1, 0 or +1.
    pub sign: f64,
    /// ln |value| (−∞ when the value is 0).
    pub ln_abs: f64,
}

impl LogValue {
    fn zero() -> Self {
        LogValue {
            sign: 0.0,
            ln_abs: f64::NEG_INFINITY,
        }
    }

    /// The plain value (may overflow to ±∞ or underflow to 0).
    pub fn value(self) -> f64 {
        if self.sign == 0.0 {
            0.0
        } else {
            self.sign * self.ln_abs.exp()
        }
    }

    fn mul_ln(self, ln_factor: f64, sign: f64) -> Self {
        if self.sign == 0.0 || sign == 0.0 {
            return LogValue::zero();
        }
        LogValue {
            sign: self.sign * sign,
            ln_abs: self.ln_abs + ln_factor,
        }
    }

    fn add(self, other: Self) -> Self {
        if self.sign == 0.0 {
            return other;
        }
        if other.sign == 0.0 {
            return self;
        }
        let (hi, lo) = if self.ln_abs >= other.ln_abs {
            (self, other)
        } else {
            (other, self)
        };
        let s = 1.0 + hi.sign * lo.sign * (lo.ln_abs - hi.ln_abs).exp();
        if s == 0.0 {
            return LogValue::zero();
        }
        LogValue {
            sign: hi.sign * s.signum(),
            ln_abs: hi.ln_abs + s.abs().ln(),
        }
    }
}

/// Largest number of series terms tried before giving up.
const MAX_TERMS: usize = 2_000_000;

/// The 2F1 power series Σ (a)_n (b)_n / ((c)_n n!) zⁿ for |z| < 1, summed with a running
/// scale so that neither terms nor the sum overflow. None if c is a non-positive integer
/// (pole) or the series has not converged within MAX_TERMS.
fn series(a: f64, b: f64, c: f64, z: f64) -> Option<LogValue> {
    if c <= 0.0 && c == c.floor() {
        return None;
    }
    if z == 0.0 {
        return Some(LogValue {
            sign: 1.0,
            ln_abs: 0.0,
        });
    }
    const BIG: f64 = 1e280;
    let ln_big = BIG.ln();
    // total = exp(scale) · sum
    let mut scale = 0.0_f64;
    let mut sum = 1.0_f64;
    let mut term = 1.0_f64;
    let z_abs = z.abs();
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let num = (a + nf) * (b + nf);
        if num == 0.0 {
            // the series terminates (a or b a non-positive integer)
            return Some(to_log_value(sum, scale));
        }
        let ratio = num / ((c + nf) * (nf + 1.0)) * z;
        term *= ratio;
        sum += term;
        if term.abs() > BIG {
            term /= BIG;
            sum /= BIG;
            scale += ln_big;
        }
        // Tail bound: (a+n)(b+n)/((c+n)(n+1)) − 1 changes sign at most once and tends to
        // 0, so once the term ratio is below 1 the later ratios stay below max(ρ, |z|).
        let rho = ratio.abs().max(z_abs);
        if n >= 3 && rho < 1.0 && term.abs() * rho <= 1e-17 * (1.0 - rho) * sum.abs() {
            return Some(to_log_value(sum, scale));
        }
        if !sum.is_finite() {
            return None;
        }
    }
    None
}

/// ln 2F1(a, b; c; z) and its partial derivatives with respect to a, b, c and z, from one
/// pass of the power series, for a, b, c > 0 and z ∈ [0, 0.99] (where [`hyp2f1_log`] sums
/// the series too and every term is positive). With tₙ the n-th term,
/// ∂tₙ/∂a = tₙ Σ_{k<n} 1/(a+k), ∂tₙ/∂b = tₙ Σ_{k<n} 1/(b+k), ∂tₙ/∂c = −tₙ Σ_{k<n} 1/(c+k)
/// and ∂tₙ/∂z = n tₙ / z, so the four derivative sums run beside the value's. None outside
/// that range or if the sums do not converge (the caller then differentiates numerically).
pub fn hyp2f1_log_grad(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, [f64; 4])> {
    let finite = a.is_finite() && b.is_finite() && c.is_finite();
    if !(finite && a > 0.0 && b > 0.0 && c > 0.0 && (0.0..=0.99).contains(&z)) {
        return None;
    }
    if z == 0.0 {
        return Some((0.0, [0.0, 0.0, 0.0, a * b / c]));
    }
    const BIG: f64 = 1e280;
    let mut scale = 0.0_f64;
    let mut sum = 1.0_f64;
    let mut term = 1.0_f64;
    // Σ_{k<n} 1/(a+k), 1/(b+k), 1/(c+k) for the current term n
    let (mut ha, mut hb, mut hc) = (0.0_f64, 0.0_f64, 0.0_f64);
    // Σ tₙ·(those sums), Σ n·tₙ
    let (mut sa, mut sb, mut sc, mut sz) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        ha += 1.0 / (a + nf);
        hb += 1.0 / (b + nf);
        hc += 1.0 / (c + nf);
        term *= ratio;
        sum += term;
        sa += term * ha;
        sb += term * hb;
        sc += term * hc;
        sz += term * (nf + 1.0);
        if term > BIG {
            term /= BIG;
            sum /= BIG;
            sa /= BIG;
            sb /= BIG;
            sc /= BIG;
            sz /= BIG;
            scale += BIG.ln();
        }
        // The value's tail bound (as in `series`), and the derivative sums' tails: their
        // factors grow by at most 1/(a+n) + 1/(b+n) per term (and n by 1), a bound that
        // the ρ/(1−ρ) geometric tail times the next factor covers.
        let rho = ratio.max(z);
        if n >= 3 && rho < 1.0 {
            let tail = term * rho / (1.0 - rho);
            let grow = 1.0 / (1.0 - rho);
            if tail <= 1e-17 * sum
                && tail * (ha + grow / (a + nf)) <= 1e-15 * sa
                && tail * (hb + grow / (b + nf)) <= 1e-15 * sb
                && tail * (hc + grow / (c + nf)) <= 1e-15 * sc
                && tail * (nf + 1.0 + grow) <= 1e-15 * sz
            {
                return Some((
                    scale + sum.ln(),
                    [sa / sum, sb / sum, -sc / sum, sz / (z * sum)],
                ));
            }
        }
        if !sum.is_finite() {
            return None;
        }
    }
    None
}

fn to_log_value(sum: f64, scale: f64) -> LogValue {
    if sum == 0.0 {
        LogValue::zero()
    } else {
        LogValue {
            sign: sum.signum(),
            ln_abs: scale + sum.abs().ln(),
        }
    }
}

/// ln Γ(c) + ln Γ(d) − ln Γ(e) − ln Γ(f) with signs: the coefficient
/// Γ(c)Γ(d) / (Γ(e)Γ(f)) as a LogValue (0 when e or f is at a pole).
fn gamma_ratio(c: f64, d: f64, e: f64, f: f64) -> Option<LogValue> {
    let (lc, sc) = ln_gamma_signed(c);
    let (ld, sd) = ln_gamma_signed(d);
    if sc == 0.0 || sd == 0.0 {
        return None; // pole in the numerator: this transformation does not apply
    }
    let (le, se) = ln_gamma_signed(e);
    let (lf, sf) = ln_gamma_signed(f);
    if se == 0.0 || sf == 0.0 {
        return Some(LogValue::zero());
    }
    Some(LogValue {
        sign: sc * sd * se * sf,
        ln_abs: lc + ld - le - lf,
    })
}

/// The Gaussian hypergeometric function 2F1(a, b; c; z) for real z < 1, as sign and log
/// of the absolute value. None when it cannot be evaluated reliably (c a non-positive
/// integer, z ≥ 1, non-finite input, or no convergence). Relative accuracy ~1e-13 on the
/// tested grid (mpmath reference), ~1e-9 when z > 0.99995 and c − a − b is within 1e-3 of
/// an integer.
pub fn hyp2f1_log(a: f64, b: f64, c: f64, z: f64) -> Option<LogValue> {
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) || z >= 1.0 {
        return None;
    }
    if z < 0.0 {
        // Pfaff: 2F1(a,b;c;z) = (1−z)^(−a) 2F1(a, c−b; c; z/(z−1)), w = z/(z−1) ∈ (0, 1).
        // Use the variant whose series has the smaller upper parameter.
        let w = z / (z - 1.0);
        let ln1mz = (-z).ln_1p();
        let (p, q) = if (c - b).abs() <= (c - a).abs() {
            (a, c - b)
        } else {
            (b, c - a)
        };
        return hyp2f1_log(p, q, c, w).map(|v| v.mul_ln(-p * ln1mz, 1.0));
    }
    if z <= 0.99 {
        // at most some 10⁴ terms; all positive for a, b, c > 0, so accurate
        return series(a, b, c, z);
    }
    // Near 1: the linear 1 − z transformation when c − a − b is away from an integer
    // (falling back on the slow series if its two terms cancel). Otherwise the direct
    // series while it converges (z ≤ 0.99995), and beyond that the transformation at
    // four nearby values of c, interpolated back to c (2F1 is analytic in c; the integer
    // case is a removable singularity of the transformation).
    let s = c - a - b;
    let m = s.round();
    let delta = s - m;
    if delta.abs() > 1e-3 {
        if let Some(v) = one_minus_z(a, b, c, z, 5.0) {
            return Some(v);
        }
        return series(a, b, c, z);
    }
    if z <= 0.99995 {
        // up to some 10⁶ terms: slow, but only reached this close to 1 in this case
        return series(a, b, c, z);
    }
    // Interpolation in c: each node loses ~ln(1/ε) nats to cancellation, hence the
    // relaxed guard; relative accuracy ~1e-9 here.
    let eps = 5e-4;
    let hs = [-2.0 * eps, -eps, eps, 2.0 * eps];
    let mut vals = [0.0; 4];
    let mut sign = 0.0;
    for (k, h) in hs.iter().enumerate() {
        let v = one_minus_z(a, b, c - delta + h, z, 12.0)?;
        if sign == 0.0 {
            sign = v.sign;
        } else if v.sign != sign {
            return None;
        }
        vals[k] = v.ln_abs;
    }
    // cubic Lagrange interpolation of ln|2F1| at h = δ
    let mut ln_abs = 0.0;
    for k in 0..4 {
        let mut l = 1.0;
        for j in 0..4 {
            if j != k {
                l *= (delta - hs[j]) / (hs[k] - hs[j]);
            }
        }
        ln_abs += l * vals[k];
    }
    Some(LogValue { sign, ln_abs })
}

/// A&S 15.3.6: 2F1(a,b;c;z) = Γ(c)Γ(c−a−b)/(Γ(c−a)Γ(c−b)) 2F1(a,b;a+b−c+1;1−z)
///   + (1−z)^(c−a−b) Γ(c)Γ(a+b−c)/(Γ(a)Γ(b)) 2F1(c−a,c−b;c−a−b+1;1−z).
///
/// None if the two terms cancel by more than `max_loss` nats.
fn one_minus_z(a: f64, b: f64, c: f64, z: f64, max_loss: f64) -> Option<LogValue> {
    let s = c - a - b;
    let w = 1.0 - z;
    let g1 = gamma_ratio(c, s, c - a, c - b)?;
    let g2 = gamma_ratio(c, -s, a, b)?;
    let f1 = if g1.sign == 0.0 {
        LogValue::zero()
    } else {
        series(a, b, 1.0 - s, w)?
    };
    let f2 = if g2.sign == 0.0 {
        LogValue::zero()
    } else {
        series(c - a, c - b, 1.0 + s, w)?
    };
    let t1 = f1.mul_ln(g1.ln_abs, g1.sign);
    let t2 = f2.mul_ln(g2.ln_abs + s * w.ln(), g2.sign);
    let total = t1.add(t2);
    // guard against catastrophic cancellation between the two terms
    let biggest = t1.ln_abs.max(t2.ln_abs);
    if total.sign == 0.0 || biggest - total.ln_abs > max_loss {
        return None;
    }
    Some(total)
}

/// 2F1(a, b; c; z_i) for several z_i ∈ [0, 0.99] at once, for a, b, c > 0: the series
/// coefficients are shared, so k values cost little more than one. Writes `out` and
/// returns true, or returns false (out unspecified) when the arguments are outside that
/// range or the sums overflow; the caller then uses [`hyp2f1_log`] per value.
pub fn hyp2f1_many(a: f64, b: f64, c: f64, zs: &[f64], out: &mut [f64]) -> bool {
    if !(a > 0.0 && b > 0.0 && c > 0.0 && a.is_finite() && b.is_finite() && c.is_finite())
        || zs.len() != out.len()
        || zs.iter().any(|z| !(0.0..=0.99).contains(z))
    {
        return false;
    }
    let k = zs.len();
    let mut pw = vec![1.0; k];
    out.iter_mut().for_each(|o| *o = 1.0);
    let mut coef = 1.0_f64;
    for n in 0..MAX_TERMS {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0));
        coef *= ratio;
        for i in 0..k {
            pw[i] *= zs[i];
            out[i] += coef * pw[i];
        }
        if !coef.is_finite() || coef > 1e280 {
            return false;
        }
        // the same tail bound as `series`, for every z
        if n >= 3 && n % 4 == 3 {
            let done = (0..k).all(|i| {
                let rho = (ratio * zs[i]).max(zs[i]);
                rho < 1.0 && coef * pw[i] * rho <= 1e-17 * (1.0 - rho) * out[i]
            });
            if done {
                return out.iter().all(|o| o.is_finite());
            }
        }
    }
    false
}

/// 2F1(a, b; c; z) for z < 1 as a plain f64; None when it cannot be evaluated.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    hyp2f1_log(a, b, c, z).map(LogValue::value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_log_grad_matches_the_value_and_numeric_derivatives() {
        let cases = [
            (1.5, 2.0, 2.5, 0.3),
            (0.8, 1.6, 1.8, 0.99),
            (45.0, 0.7, 46.0, 0.9),
            (3.2, 12.0, 4.2, 0.5),
            (0.05, 0.02, 1.05, 0.97),
            (250.0, 1.2, 251.0, 0.98),
            (2.0, 3.0, 3.0, 0.0),
        ];
        for (a, b, c, z) in cases {
            let (ln_f, g) = hyp2f1_log_grad(a, b, c, z).unwrap();
            let want = hyp2f1_log(a, b, c, z).unwrap().ln_abs;
            assert!(
                (ln_f - want).abs() < 1e-13 * want.abs().max(1.0),
                "{a} {b} {c} {z}"
            );
            let f = |da: f64, db: f64, dc: f64, dz: f64| {
                hyp2f1_log(a + da, b + db, c + dc, z + dz).unwrap().ln_abs
            };
            let h = 1e-4;
            let rich = |fp: &dyn Fn(f64) -> f64| {
                (8.0 * (fp(h) - fp(-h)) - (fp(2.0 * h) - fp(-2.0 * h))) / (12.0 * h)
            };
            let num = [
                rich(&|d| f(d, 0.0, 0.0, 0.0)),
                rich(&|d| f(0.0, d, 0.0, 0.0)),
                rich(&|d| f(0.0, 0.0, d, 0.0)),
                if z == 0.0 {
                    a * b / c
                } else {
                    rich(&|d| f(0.0, 0.0, 0.0, d))
                },
            ];
            for k in 0..4 {
                assert!(
                    (g[k] - num[k]).abs() < 1e-7 * num[k].abs().max(1.0),
                    "{a} {b} {c} {z} k={k}: {} vs {}",
                    g[k],
                    num[k]
                );
            }
        }
        // outside the series' range: None
        assert!(hyp2f1_log_grad(1.0, 1.0, 2.0, 0.995).is_none());
        assert!(hyp2f1_log_grad(-1.0, 1.0, 2.0, 0.5).is_none());
    }

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn digamma_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-13);
        // ψ(x+1) = ψ(x) + 1/x
        for &x in &[0.013, 0.7, 3.3, 17.0, 250.5] {
            assert!((digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-12 * (1.0 + 1.0 / x));
        }
        // derivative of lgamma by central differences
        for &x in &[0.3, 2.5, 40.0] {
            let h = 1e-5;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((fd - digamma(x)).abs() < 1e-7);
        }
        assert!(digamma(0.0).is_nan() && digamma(-2.0).is_nan());
        assert!(
            (digamma(-0.5)
                - (digamma(1.5) - std::f64::consts::PI / (-0.5f64 * std::f64::consts::PI).tan()))
            .abs()
                < 1e-12
        );
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // 2F1(1,1;2;z) = −ln(1−z)/z
        // (c − a − b = 0: beyond z = 0.999 by interpolation in c, to ~1e-10)
        for z in [-5.0_f64, -0.5, 0.1, 0.5, 0.9, 0.95, 0.999, 0.999_999] {
            let want = -(-z).ln_1p() / z;
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            let tol = if z > 0.999 { 1e-9 } else { 1e-13 };
            assert!(rel(got, want) < tol, "z={z} got={got} want={want}");
        }
        // 2F1(a,b;b;z) = (1−z)^(−a)
        for (a, b, z) in [(0.3, 2.0, 0.7_f64), (2.5, 0.4, -3.0), (7.0, 1.5, 0.97)] {
            let want = (1.0 - z).powf(-a);
            let got = hyp2f1(a, b, b, z).unwrap();
            assert!(rel(got, want) < 1e-12, "a={a} b={b} z={z}");
        }
        // 2F1(1/2,1/2;3/2;z²) = asin(z)/z
        for z in [0.2_f64, 0.6, 0.99] {
            let want = z.asin() / z;
            let got = hyp2f1(0.5, 0.5, 1.5, z * z).unwrap();
            assert!(rel(got, want) < 1e-12, "z={z}");
        }
        // Gauss: 2F1(a,b;c;1) = Γ(c)Γ(c−a−b)/(Γ(c−a)Γ(c−b)); approach z → 1
        let (a, b, c) = (0.3, 0.4, 2.2);
        let want = (ln_gamma(c) + ln_gamma(c - a - b) - ln_gamma(c - a) - ln_gamma(c - b)).exp();
        let got = hyp2f1(a, b, c, 1.0 - 1e-12).unwrap();
        assert!(rel(got, want) < 1e-9);
        // polynomial case: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1))
        let (b, c, z) = (1.5, 2.5, 0.3);
        let want = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert!(rel(hyp2f1(-2.0, b, c, z).unwrap(), want) < 1e-14);
        assert_eq!(hyp2f1(1.0, 1.0, 1.0, 0.0), Some(1.0));
        assert!(hyp2f1(1.0, 1.0, -1.0, 0.5).is_none());
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_none());
        assert!(hyp2f1(1.0, f64::NAN, 2.0, 0.5).is_none());
    }

    #[test]
    fn hyp2f1_many_matches_one_at_a_time() {
        let zs = [0.0, 0.1, 0.5, 0.9, 0.95, 0.99];
        let mut out = [0.0; 6];
        for (a, b, c) in [
            (0.24, 2.43, 2.22),
            (5.2, 7.4, 7.2),
            (60.0, 62.0, 61.5),
            (1.0, 1.0, 2.0),
        ] {
            assert!(hyp2f1_many(a, b, c, &zs, &mut out));
            for (z, o) in zs.iter().zip(&out) {
                let one = hyp2f1(a, b, c, *z).unwrap();
                assert!(rel(*o, one) < 1e-12, "{a} {b} {c} {z}: {o} vs {one}");
            }
        }
        assert!(!hyp2f1_many(1.0, 1.0, 2.0, &[0.995], &mut out[..1]));
        assert!(!hyp2f1_many(-1.0, 1.0, 2.0, &[0.5], &mut out[..1]));
        assert!(!hyp2f1_many(1.0, 1.0, 2.0, &[0.5], &mut out[..2]));
    }

    #[test]
    fn hyp2f1_large_values_in_log_space() {
        // (1−z)^(−a) with a huge: beyond f64 as a value, fine as a log
        let v = hyp2f1_log(400.0, 2.0, 2.0, 0.99).unwrap();
        assert!(rel(v.ln_abs, -400.0 * 0.01f64.ln()) < 1e-12);
        assert_eq!(v.sign, 1.0);
    }

    #[derive(serde::Deserialize)]
    struct Case {
        a: f64,
        b: f64,
        c: f64,
        z: f64,
        value: f64,
    }
    #[derive(serde::Deserialize)]
    struct Cases {
        cases: Vec<Case>,
    }

    #[test]
    fn hyp2f1_matches_scipy() {
        let cases: Cases =
            serde_json::from_str(include_str!("../../tests/reference/hyp2f1_scipy.json")).unwrap();
        assert!(cases.cases.len() > 50);
        for k in &cases.cases {
            let got = hyp2f1(k.a, k.b, k.c, k.z).unwrap();
            // c − a − b within 1e-3 of an integer and z > 0.99995: interpolated in c
            let s = k.c - k.a - k.b;
            let tol = if k.z > 0.99995 && (s - s.round()).abs() <= 1e-3 {
                1e-8
            } else {
                1e-11
            };
            assert!(
                rel(got, k.value) < tol,
                "2F1({}, {}; {}; {}) = {got}, mpmath {}",
                k.a,
                k.b,
                k.c,
                k.z,
                k.value
            );
        }
    }
}
