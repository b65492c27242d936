//! The standard normal distribution and the bivariate normal CDF, as the dichotomized Gaussian
//! needs them.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Standard normal CDF `Phi(x)`, from the complementary error function (full double precision
/// in both tails).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Inverse standard normal CDF `Phi^-1(p)` for `p` in (0, 1): Acklam's rational approximation
/// (relative error below 1.2e-9) refined by one Halley step on [`normal_cdf`], which brings it
/// to double precision. Returns -inf / +inf at 0 / 1 and NaN outside [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        let r = (-2.0 * q.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    let x = if p < LOW {
        tail(p)
    } else if p > 1.0 - LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step: e = Phi(x) - p, u = e / phi(x).
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// Positive nodes of the 20-point Gauss-Legendre rule on [-1, 1] (the negative ones mirror
/// them), from NumPy's `leggauss(20)`.
const GL_NODES: [f64; 10] = [
    0.07652652113349734,
    0.22778585114164507,
    0.37370608871541955,
    0.5108670019508271,
    0.636053680726515,
    0.7463319064601508,
    0.8391169718222188,
    0.912234428251326,
    0.9639719272779138,
    0.993128599185095,
];
/// Weights of [`GL_NODES`] (they sum to 1, half the interval's length).
const GL_WEIGHTS: [f64; 10] = [
    0.15275338713072628,
    0.14917298647260424,
    0.1420961093183824,
    0.1316886384491769,
    0.1181945319615186,
    0.1019301198172407,
    0.08327674157670471,
    0.06267204833410879,
    0.040601429800386446,
    0.017614007139150893,
];

/// Bivariate standard normal CDF `P(X <= h, Y <= k)` with correlation `rho` in [-1, 1]:
/// `Phi(h) Phi(k) + 1/(2 pi) int_0^asin(rho) exp(-(h^2 - 2 h k sin t + k^2) / (2 cos^2 t)) dt`
/// (the derivative of the CDF in `rho` is the bivariate density, integrated along
/// `rho = sin t`), by composite 20-point Gauss-Legendre quadrature on 8 panels; `|rho| = 1` is
/// handled in closed form. Accurate to about 1e-13 for `|rho| <= 0.999`.
pub fn bivariate_normal_cdf(h: f64, k: f64, rho: f64) -> f64 {
    if rho.is_nan() || h.is_nan() || k.is_nan() {
        return f64::NAN;
    }
    let rho = rho.clamp(-1.0, 1.0);
    if rho == 1.0 {
        return normal_cdf(h.min(k));
    }
    if rho == -1.0 {
        return (normal_cdf(h) - normal_cdf(-k)).max(0.0);
    }
    let end = rho.asin();
    const PANELS: usize = 8;
    let width = end / PANELS as f64;
    let mut integral = 0.0;
    for panel in 0..PANELS {
        let mid = (panel as f64 + 0.5) * width;
        for (x, w) in GL_NODES.iter().zip(&GL_WEIGHTS) {
            for t in [mid - 0.5 * width * x, mid + 0.5 * width * x] {
                let (s, c) = t.sin_cos();
                integral += w * (-(h * h - 2.0 * h * k * s + k * k) / (2.0 * c * c)).exp();
            }
        }
    }
    integral *= 0.5 * width;
    (normal_cdf(h) * normal_cdf(k) + integral / (2.0 * PI)).clamp(0.0, 1.0)
}

/// Bivariate standard normal density at `(h, k)` with correlation `rho` in (-1, 1): the
/// derivative of [`bivariate_normal_cdf`] in `rho`.
pub fn bivariate_normal_pdf(h: f64, k: f64, rho: f64) -> f64 {
    let one_minus = 1.0 - rho * rho;
    (-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * one_minus)).exp() / (2.0 * PI * one_minus.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_the_cdf() {
        for &p in &[1e-12, 1e-6, 0.001, 0.02, 0.3, 0.5, 0.77, 0.99, 1.0 - 1e-9] {
            let x = normal_quantile(p);
            assert!((normal_cdf(x) - p).abs() <= 1e-14 * p.max(1e-3), "{p}: {x}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn quadrature_rule_is_exact_for_polynomials() {
        // sum of weights = 1 (half of the length of [-1, 1]); x^2 integrates to 1/3 per half.
        let total: f64 = GL_WEIGHTS.iter().sum();
        assert!((total - 1.0).abs() < 1e-15);
        let second: f64 = GL_NODES
            .iter()
            .zip(&GL_WEIGHTS)
            .map(|(x, w)| w * x * x)
            .sum();
        assert!((second - 1.0 / 3.0).abs() < 1e-14);
    }

    #[test]
    fn bivariate_cdf_closed_forms() {
        // Independence, and Sheppard's orthant formula P(X<=0, Y<=0) = 1/4 + asin(rho) / 2pi.
        assert!(
            (bivariate_normal_cdf(0.3, -0.7, 0.0) - normal_cdf(0.3) * normal_cdf(-0.7)).abs()
                < 1e-15
        );
        for &rho in &[-0.95f64, -0.5, 0.1, 0.6, 0.99] {
            let want = 0.25 + rho.asin() / (2.0 * PI);
            assert!(
                (bivariate_normal_cdf(0.0, 0.0, rho) - want).abs() < 1e-14,
                "{rho}"
            );
        }
        // The derivative in rho is the density (central differences).
        let (h, k, rho) = (-1.2, 0.4, 0.35);
        let step = 1e-5;
        let numeric = (bivariate_normal_cdf(h, k, rho + step)
            - bivariate_normal_cdf(h, k, rho - step))
            / (2.0 * step);
        assert!((numeric - bivariate_normal_pdf(h, k, rho)).abs() < 1e-8);
    }
}
