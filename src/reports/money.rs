//! The one rule for summing money: every report sums net revenue, spend and costs with
//! [`Money`], so that the same customers' revenue is the same number, to the last digit,
//! in every report (summary, cohort, ltv, segment, wallet, whatif).

/// A compensated sum of amounts (Neumaier's improvement of Kahan's: the error of each
/// addition is kept, whichever operand is larger). Exact to the last digit of `f64` for
/// any realistic count of cent amounts, and independent of the order of the amounts in
/// all but pathological cases.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Money {
    sum: f64,
    err: f64,
}

impl Money {
    pub const ZERO: Money = Money { sum: 0.0, err: 0.0 };

    /// Add one amount.
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if !t.is_finite() {
            // An infinite or NaN total stays so (no Inf − Inf in the error term).
            self.sum = t;
            return;
        }
        if self.sum.abs() >= x.abs() {
            self.err += (self.sum - t) + x;
        } else {
            self.err += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The sum.
    pub fn total(self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.err
        } else {
            self.sum
        }
    }

    /// The sum of some amounts.
    pub fn of<I: IntoIterator<Item = f64>>(amounts: I) -> f64 {
        let mut m = Money::ZERO;
        for a in amounts {
            m.add(a);
        }
        m.total()
    }
}

/// The grain at which money values are compared for ranks: a millionth of the currency
/// unit. Two customers who each spent 155.79 tie (and the tie is broken by customer id),
/// although the sums of their amounts, as binary floating point, may differ in the last
/// digit (155.79 and 155.79000000000002).
pub const RANK_GRAIN: f64 = 1e-6;

/// `x` rounded to [`RANK_GRAIN`], for ranking (values beyond 10⁹ are already coarser
/// than the grain and are kept).
pub fn rank_key(x: f64) -> f64 {
    if x.abs() < 1e9 {
        (x / RANK_GRAIN).round() * RANK_GRAIN
    } else {
        x
    }
}

impl std::ops::AddAssign<f64> for Money {
    fn add_assign(&mut self, x: f64) {
        self.add(x);
    }
}

impl std::ops::AddAssign<Money> for Money {
    fn add_assign(&mut self, o: Money) {
        self.add(o.sum);
        self.add(o.err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_sum_exactly() {
        // 0.1 + 0.2 + ... : the plain sum drifts, the compensated one does not.
        let v = vec![0.1; 10];
        assert_ne!(v.iter().sum::<f64>(), 1.0);
        assert_eq!(Money::of(v), 1.0);
        // A large amount then small ones (where Kahan loses the small ones' error).
        assert_eq!(Money::of([1.0, 1e100, 1.0, -1e100]), 2.0);
        // The same amounts in another order give the same total.
        let a = [27.06, -86.13, 59.07, 19.99, 0.01, 1e6, -1e6];
        let mut b = a;
        b.reverse();
        assert_eq!(Money::of(a), Money::of(b));
    }

    #[test]
    fn infinities_do_not_make_nan() {
        assert_eq!(Money::of([1.0, f64::INFINITY, 2.0]), f64::INFINITY);
        assert_eq!(Money::of(std::iter::empty()), 0.0);
        let mut m = Money::ZERO;
        m += 1.5;
        m += Money::of([0.25, 0.25]);
        assert_eq!(m.total(), 2.0);
    }
}
