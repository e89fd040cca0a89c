//! Numerics shared by the detectors.
//!
//! Every transcendental function goes through the `libm` crate, never the platform's libm, so a native build and the
//! wasm32 build compute bit-identical results (the parity tests compare state bytes exactly).
//!
//! Square roots are `f64::sqrt`, not `libm::sqrt`: IEEE 754 rounds a square root correctly, so the one instruction
//! on each target (`sqrtsd`, `f64.sqrt`) gives the same bits as libm's software root, which is what wasm32 got from
//! `libm::sqrt` (its hardware path needs nightly there) at ~130 instructions a call.

/// `f64::max` and `f64::min` for the detectors' hot paths, inlined on every target.
///
/// wasm32 has no instruction with `f64::max`'s NaN rule (`f64.max` propagates a NaN), so there LLVM calls
/// compiler-builtins' `fmax`/`fmin`, ~27 instructions a call and some 20 calls an event in `adaptive`. These are
/// the rule x86-64 computes for `f64::max`/`f64::min` (a NaN `self` gives `other`; otherwise the larger, or
/// smaller, with `self` on a tie), so native results keep every bit; wasm32's `fmin` breaks a tie of ±0 the other
/// way (towards `other`), which now agrees with native.
pub trait Bounds {
    /// `self.max(floor)`.
    fn at_least(self, floor: f64) -> f64;
    /// `self.min(ceiling)`.
    fn at_most(self, ceiling: f64) -> f64;
}

impl Bounds for f64 {
    #[inline(always)]
    fn at_least(self, floor: f64) -> f64 {
        if self.is_nan() || floor > self { floor } else { self }
    }
    #[inline(always)]
    fn at_most(self, ceiling: f64) -> f64 {
        if self.is_nan() || ceiling < self { ceiling } else { self }
    }
}

/// `ln(1 + x)`.
pub fn ln_1p(x: f64) -> f64 {
    libm::log1p(x)
}

/// `e^x - 1`.
pub fn exp_m1(x: f64) -> f64 {
    libm::expm1(x)
}

/// The largest difference the detectors square: `a - b` clamped to ±1e150, so no finite input can overflow a
/// variance (a key whose values differ by more is scored as if they differed by 1e150).
pub fn bounded_diff(a: f64, b: f64) -> f64 {
    (a - b).clamp(-1e150, 1e150)
}

/// `2^x`.
pub fn exp2(x: f64) -> f64 {
    libm::exp2(x)
}

/// The standard normal upper tail, `P(Z > z)`.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / core::f64::consts::SQRT_2)
}

/// The `z` with `P(Z > z) = p` for a standard normal `Z`, for `p` in (0, 1).
///
/// Acklam's rational approximation refined by one Halley step against `erfc`; accurate to ~1e-15 relative over the
/// whole range, including the far tail the velocity check lives in.
pub fn normal_upper_quantile(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 {
        return f64::INFINITY;
    }
    if p >= 1.0 {
        return f64::NEG_INFINITY;
    }
    // Lower-tail quantile of q = p, then negate.
    let q = p;
    // Acklam's published coefficients, kept digit for digit so they can be checked against the source.
    #[allow(clippy::excessive_precision)]
    const A: [f64; 6] =
        [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] =
        [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    const LOW: f64 = 0.02425;
    let x = if q < LOW {
        let r = f64::sqrt(-2.0 * libm::log(q));
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5]) / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    } else if q <= 1.0 - LOW {
        let s = q - 0.5;
        let r = s * s;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * s
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let r = f64::sqrt(-2.0 * libm::log(1.0 - q));
        -(((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5]) / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    // x is the lower-tail quantile: P(Z < x) = q. Refine with one Halley step.
    let e = 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2) - q;
    let u = e * f64::sqrt(2.0 * core::f64::consts::PI) * libm::exp(x * x / 2.0);
    let x = if u.is_finite() { x - u / (1.0 + x * u / 2.0) } else { x };
    -x
}

/// `P(N >= m)` for `N ~ Poisson(lambda)`, computed from the tail itself so tiny probabilities keep their precision.
pub fn poisson_upper_tail(m: u32, lambda: f64) -> f64 {
    if m == 0 {
        return 1.0;
    }
    if !(lambda > 0.0) {
        return 0.0;
    }
    if lambda >= m as f64 {
        // Past the mode the tail is large; the direct complement is accurate there.
        let mut term = libm::exp(-lambda);
        let mut below = term;
        for i in 1..m {
            term *= lambda / i as f64;
            below += term;
        }
        return (1.0 - below).clamp(0.0, 1.0);
    }
    // log P(N = m) = -lambda + m ln(lambda) - ln(m!)
    let log_first = -lambda + m as f64 * libm::log(lambda) - libm::lgamma(m as f64 + 1.0);
    let mut term = 1.0;
    let mut sum: f64 = 0.0;
    let mut i = m;
    while term > 1e-17 * sum.max(1e-300) && i < m + 200 {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    (libm::exp(log_first) * sum).clamp(0.0, 1.0)
}

/// The multiplier on a sample standard deviation that has the same upper-tail probability as `z` standard deviations
/// of a normal, for a Student-t with `nu` degrees of freedom.
///
/// Small baselines estimate their spread poorly; without this a key with ten events raises several times the false
/// alarms that `threshold_multiplier` promises. Exact (Newton on the t tail) below [`T_EXACT_BELOW`] degrees of
/// freedom, where keys spend only their first events; the Cornish–Fisher expansion above, good to 1e-4 relative there.
pub fn student_t_multiplier(z: f64, nu: f64) -> f64 {
    if !nu.is_finite() || nu > 1e6 {
        return z;
    }
    let nu = nu.max(1.0);
    if nu < T_EXACT_BELOW {
        return student_t_upper_quantile(normal_upper_tail(z), nu);
    }
    cornish_fisher(z, nu)
}

/// Degrees of freedom below which [`student_t_multiplier`] solves exactly.
pub const T_EXACT_BELOW: f64 = 60.0;

fn cornish_fisher(z: f64, nu: f64) -> f64 {
    let z2 = z * z;
    let z3 = z2 * z;
    let z5 = z3 * z2;
    let z7 = z5 * z2;
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    z + g1 / nu + g2 / (nu * nu) + g3 / (nu * nu * nu)
}

/// `P(T > t)` for a Student-t with `nu` degrees of freedom, `t >= 0`.
pub fn student_t_upper_tail(t: f64, nu: f64) -> f64 {
    let x = nu / (nu + t * t);
    0.5 * incomplete_beta(nu / 2.0, 0.5, x)
}

/// The `t > 0` with `P(T > t) = p` (for `p < 0.5`), by Newton's method on `ln P(T > t)` over `ln t`.
pub fn student_t_upper_quantile(p: f64, nu: f64) -> f64 {
    let z = normal_upper_quantile(p);
    if !(z > 0.0) {
        return z.max(0.0);
    }
    let ln_p = libm::log(p);
    let ln_norm = libm::lgamma((nu + 1.0) / 2.0) - libm::lgamma(nu / 2.0) - 0.5 * libm::log(nu * core::f64::consts::PI);
    let mut u = libm::log(cornish_fisher(z, nu).max(z));
    for _ in 0..100 {
        let t = libm::exp(u);
        let tail = student_t_upper_tail(t, nu);
        if !(tail > 0.0) {
            u -= 1.0;
            continue;
        }
        let ln_pdf = ln_norm - (nu + 1.0) / 2.0 * libm::log1p(t * t / nu);
        let g = libm::log(tail) - ln_p;
        // d ln S / d ln t = -t·pdf/S
        let slope = -t * libm::exp(ln_pdf - libm::log(tail));
        let step = (g / slope).clamp(-2.0, 2.0);
        u -= step;
        if step.abs() < 1e-13 {
            break;
        }
    }
    libm::exp(u)
}

/// The regularised incomplete beta function `I_x(a, b)` (continued fraction, modified Lentz).
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * libm::log(x) + b * libm::log1p(-x);
    if x < (a + 1.0) / (a + b + 2.0) {
        libm::exp(ln_front) * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - libm::exp(ln_front) * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_inverts_the_tail() {
        for &p in &[0.5, 0.1, 0.01, 1.3498980316301e-3, 1e-6, 1e-12, 1e-30, 1e-100, 0.9, 0.999] {
            let z = normal_upper_quantile(p);
            let back = normal_upper_tail(z);
            assert!(((back - p) / p).abs() < 1e-9, "p={p} z={z} back={back}");
        }
        assert!((normal_upper_quantile(1.3498980316301e-3) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn poisson_tail_matches_direct_sums() {
        let direct = |m: u32, l: f64| {
            let mut term = (-l).exp();
            let mut below = 0.0;
            for i in 0..m {
                if i > 0 {
                    term *= l / i as f64;
                }
                below += term;
            }
            1.0 - below
        };
        for &(m, l) in &[(1, 0.5), (3, 1.0), (5, 2.0), (8, 7.5), (8, 20.0), (2, 3.0)] {
            let a = poisson_upper_tail(m, l);
            let b = direct(m, l);
            assert!((a - b).abs() < 1e-12, "m={m} l={l}: {a} vs {b}");
        }
        // Far tail: P(N >= 4 | 0.001) ≈ 0.001^4/24
        let tiny = poisson_upper_tail(4, 0.001);
        assert!((tiny / (1e-12 / 24.0) - 1.0).abs() < 1e-2, "{tiny}");
    }

    #[test]
    fn t_multiplier_matches_reference_quantiles() {
        // scipy.stats.t.isf(scipy.stats.norm.sf(z), nu)
        let reference = [
            (3.0, 1.0, 235.8014979604683),
            (3.0, 2.0, 19.206744211508592),
            (3.0, 5.0, 5.507079712469293),
            (3.0, 9.0, 4.094255306209269),
            (3.0, 29.0, 3.280426097409602),
            (3.0, 60.0, 3.1299344484443696),
            (2.0, 3.0, 3.306822175005652),
            (2.0, 19.0, 2.1404937230532),
            (4.5, 1.0, 93684.670209996),
            (4.5, 5.0, 19.353060253999374),
            (4.5, 29.0, 5.474229563568859),
            (4.5, 60.0, 4.931263161656625),
        ];
        for (z, nu, want) in reference {
            let got = student_t_multiplier(z, nu);
            assert!(((got - want) / want).abs() < 1e-4, "z={z} nu={nu}: {got} vs {want}");
        }
        assert!((student_t_multiplier(3.0, 1e7) - 3.0).abs() < 1e-12);
    }
}
