//! Special functions, elementwise over float64 buffers: gamma, lgamma, erf.
//!
//! Values come from the pure-Rust `libm` crate (same bits on every target); a few edge ranges
//! are adjusted so the results match the oracle, `scipy.special` (see `gamma1` and `lgamma1`).

use wasmcore_abi::export;

/// `xsf`'s MAXGAM: for x <= -MAXGAM scipy's Stirling factor overflows and gamma(x) is ±0.
const MAXGAM: f64 = 171.624_376_956_302_7;
/// For -MAXGAM < x < -33 scipy computes pi / (|x sin(pi x)| * Gamma(|x|)), which is ±0 as soon
/// as the denominator overflows, i.e. when |gamma(x)| < pi / f64::MAX.
const GAMMA_FLUSH: f64 = core::f64::consts::PI / f64::MAX;

fn gamma1(x: f64) -> f64 {
    let y = libm::tgamma(x);
    // libm returns the (correct) subnormal or tiny value where scipy returns a signed zero.
    if x < -33.0 && !y.is_nan() && (x <= -MAXGAM || y.abs() < GAMMA_FLUSH) {
        0.0f64.copysign(y)
    } else {
        y
    }
}

fn lgamma1(x: f64) -> f64 {
    // ±inf -> ±inf (as scipy: gammaln(-inf) = -inf, though math.lgamma says inf). Poles at ±0
    // and, like scipy, every x whose reciprocal overflows (|x| < ~5.6e-309: scipy divides 1 by
    // x first) -> inf. libm already gives inf at the negative-integer poles.
    if x.is_infinite() {
        x
    } else if (1.0 / x).is_infinite() {
        f64::INFINITY
    } else {
        libm::lgamma(x)
    }
}

/// Gamma function, elementwise, as `scipy.special.gamma`: ±inf at ±0.0, NaN at negative
/// integers and -inf, inf if x > 171.6243, ±0.0 if x < -171.6243 or |result| < 1.75e-308.
#[export]
pub fn gamma(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| gamma1(v)).collect()
}

/// Natural log of |gamma(x)| for each element, as `scipy.special.gammaln`: inf at the poles
/// (0 and the negative integers) and (as scipy) where 1/x overflows (|x| < ~5.6e-309); ±inf at ±inf.
#[export]
pub fn lgamma(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| lgamma1(v)).collect()
}

/// Error function of each element, as `scipy.special.erf`: erf(±inf) = ±1, NaN -> NaN.
#[export]
pub fn erf(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| libm::erf(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Same bits for the non-finite / zero expectations, else within the relative bound.
    fn check(name: &str, x: f64, got: f64, want: f64, tol: f64) {
        if want.is_nan() || want.is_infinite() || want == 0.0 {
            let same = (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits();
            assert!(same, "{name}({x:e}) = {got:e}, want {want:e}");
        } else {
            assert!(
                (got - want).abs() <= tol,
                "{name}({x:e}) = {got:e}, want {want:e} (tol {tol:e})"
            );
        }
    }

    // /work/main/.venv/bin/python -c "import scipy.special as s;f=lambda v:{'inf':'f64::INFINITY','-inf':'f64::NEG_INFINITY','nan':'f64::NAN'}.get(repr(v),repr(v));[print(f'({f(x)}, {f(float(s.gamma(x)))}),') for x in map(float,[0.5,1,1.5,2.5,3.0000000000000004,5,10.3,20.7,33.5,50.5,100.25,150.1,170.5,171.6,171.62,171.7,1e-10,1e-300,1e-309,-1e-10,-1e-300,-0.5,-1.5,-1.0000000000000002,-2.9999999999999996,-10.3,-20.000001,-33.5,-50.5,-100.25,-170.5,-170.62,-170.7,-171.5,-172.00000000000003,-177.5,-185.5,-1000.5,0.0,-0.0,-1,-2,-170,float('inf'),float('-inf'),float('nan')])]"
    // (scipy 1.17.1)
    #[rustfmt::skip]
    const GAMMA: &[(f64, f64)] = &[
        (0.5, 1.7724538509055159),
        (1.0, 1.0),
        (1.5, 0.8862269254527579),
        (2.5, 1.329340388179137),
        (3.0000000000000004, 2.000000000000001),
        (5.0, 24.0),
        (10.3, 716430.6890623764),
        (20.7, 9.852430240890132e+17),
        (33.5, 1.5058569756267023e+36),
        (50.5, 4.290462912351959e+63),
        (100.25, 2.9484662818387707e+156),
        (150.1, 6.284646778959301e+260),
        (170.5, 5.562092414559999e+305),
        (171.6, 1.5858969096672567e+308),
        (171.62, 1.7576826789978125e+308),
        (171.7, f64::INFINITY),
        (1e-10, 9999999999.422785),
        (1e-300, 9.999999999999999e+299),
        (1e-309, f64::INFINITY),
        (-1e-10, -10000000000.577215),
        (-1e-300, -9.999999999999999e+299),
        (-0.5, -3.5449077018110318),
        (-1.5, 2.363271801207355),
        (-1.0000000000000002, 4503599627370495.5),
        (-2.9999999999999996, -375299968947541.56),
        (-10.3, -5.26236323953561e-07),
        (-20.000001, -4.110305203799352e-13),
        (-33.5, 6.227609042535816e-38),
        (-50.5, -1.4499543939077483e-65),
        (-100.25, -1.5030877093227506e-158),
        (-170.5, -3.3127395215386074e-308),
        (-170.62, -1.922342824930649e-308),
        (-170.7, -0.0),
        (-171.5, 0.0),
        (-172.00000000000003, -0.0),
        (-177.5, 0.0),
        (-185.5, 0.0),
        (-1000.5, -0.0),
        (0.0, f64::INFINITY),
        (-0.0, f64::NEG_INFINITY),
        (-1.0, f64::NAN),
        (-2.0, f64::NAN),
        (-170.0, f64::NAN),
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, f64::NAN),
        (f64::NAN, f64::NAN),
    ];

    // /work/main/.venv/bin/python -c "import scipy.special as s;f=lambda v:{'inf':'f64::INFINITY','-inf':'f64::NEG_INFINITY','nan':'f64::NAN'}.get(repr(v),repr(v));[print(f'({f(x)}, {f(float(s.gammaln(x)))}),') for x in map(float,[0.5,0.9999999,1,1.0000001,1.5,1.9999999,2,2.0000001,2.5,3,10,100,1e5,1e10,1e100,1e300,1.7976931348623157e308,1e-10,1e-300,1e-308,1e-310,-1e-310,-1e-10,-0.5,-2.5,-2.4570247382208006,-2.7476826467274127,-3.5,-10.3,-33.5,-100.5,-1e10+0.5,-2.5e15+0.5,0.0,-0.0,-1,-2,-100,-1e300,float('nan')])]"
    #[rustfmt::skip]
    #[allow(clippy::approx_constant)] // scipy's digits, kept verbatim (gammaln(3) = ln 2)
    const LGAMMA: &[(f64, f64)] = &[
        (0.5, 0.5723649429247),
        (0.9999999, 5.772157485317564e-08),
        (1.0, 0.0),
        (1.0000001, -5.772155830717687e-08),
        (1.5, -0.12078223763524526),
        (1.9999999, -4.227843020121469e-08),
        (2.0, 0.0),
        (2.0000001, 4.2278436665324974e-08),
        (2.5, 0.2846828704729192),
        (3.0, 0.6931471805599453),
        (10.0, 12.801827480081469),
        (100.0, 359.1342053695754),
        (100000.0, 1051287.7089736569),
        (10000000000.0, 220258509288.81058),
        (1e+100, 2.292585092994046e+102),
        (1e+300, 6.897755278982137e+302),
        (1.7976931348623157e+308, f64::INFINITY),
        (1e-10, 23.025850929882733),
        (1e-300, 690.7755278982137),
        (1e-308, 709.1962086421661),
        (1e-310, f64::INFINITY),
        (-1e-310, f64::INFINITY),
        (-1e-10, 23.025850929998178),
        (-0.5, 1.2655121234846454),
        (-2.5, -0.05624371649767401),
        (-2.4570247382208006, 5.551115123125783e-17),
        (-2.7476826467274127, 2.7755575615628914e-17),
        (-3.5, -1.3090066849930422),
        (-10.3, -14.457515440024208),
        (-33.5, -85.66924105593168),
        (-100.5, -364.9009683094273),
        (-9999999999.5, -220258509299.1788),
        (-2499999999999999.5, -8.61376678169621e+16),
        (0.0, f64::INFINITY),
        (-0.0, f64::INFINITY),
        (-1.0, f64::INFINITY),
        (-2.0, f64::INFINITY),
        (-100.0, f64::INFINITY),
        (-1e+300, f64::INFINITY),
        (f64::NAN, f64::NAN),
        // /work/main/.venv/bin/python -c "import scipy.special as s; print(s.gammaln([float('inf'), float('-inf')]))"
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, f64::NEG_INFINITY),
    ];

    // /work/main/.venv/bin/python -c "import scipy.special as s;f=lambda v:{'inf':'f64::INFINITY','-inf':'f64::NEG_INFINITY','nan':'f64::NAN'}.get(repr(v),repr(v));[print(f'({f(x)}, {f(float(s.erf(x)))}),') for x in map(float,[0,-0.0,1e-300,1e-10,-1e-10,0.1,0.5,0.84375,1,-1,1.25,2,2.857142857142857,3,-3,4,5.9,6,10,27,1e300,float('inf'),float('-inf'),float('nan')])]"
    #[rustfmt::skip]
    const ERF: &[(f64, f64)] = &[
        (0.0, 0.0),
        (-0.0, -0.0),
        (1e-300, 1.1283791670955126e-300),
        (1e-10, 1.1283791670955126e-10),
        (-1e-10, -1.1283791670955126e-10),
        (0.1, 0.1124629160182849),
        (0.5, 0.5204998778130465),
        (0.84375, 0.7672256612323416),
        (1.0, 0.8427007929497148),
        (-1.0, -0.8427007929497148),
        (1.25, 0.9229001282564582),
        (2.0, 0.9953222650189527),
        (2.857142857142857, 0.9999466876886117),
        (3.0, 0.9999779095030014),
        (-3.0, -0.9999779095030014),
        (4.0, 0.9999999845827421),
        (5.9, 0.9999999999999999),
        (6.0, 1.0),
        (10.0, 1.0),
        (27.0, 1.0),
        (1e+300, 1.0),
        (f64::INFINITY, 1.0),
        (f64::NEG_INFINITY, -1.0),
        (f64::NAN, f64::NAN),
    ];

    fn xs(table: &[(f64, f64)]) -> Vec<f64> {
        table.iter().map(|&(x, _)| x).collect()
    }

    #[test]
    fn gamma_matches_scipy() {
        for (&(x, want), got) in GAMMA.iter().zip(gamma(&xs(GAMMA))) {
            check("gamma", x, got, want, 1e-13 * want.abs());
        }
    }

    #[test]
    fn lgamma_matches_scipy() {
        for (&(x, want), got) in LGAMMA.iter().zip(lgamma(&xs(LGAMMA))) {
            check("lgamma", x, got, want, 1e-13 * want.abs().max(1.0));
        }
    }

    #[test]
    fn erf_matches_scipy() {
        for (&(x, want), got) in ERF.iter().zip(erf(&xs(ERF))) {
            check("erf", x, got, want, 1e-15);
        }
    }

    #[test]
    fn edges_from_the_spec() {
        let inf = f64::INFINITY;
        let g = gamma(&[0.0, -0.0, -1.0, -171.0, -inf, inf, 171.7, 1e300, f64::NAN]);
        assert_eq!(g[0], inf);
        assert_eq!(g[1], -inf);
        assert!(g[2].is_nan() && g[3].is_nan() && g[4].is_nan() && g[8].is_nan());
        assert_eq!(&g[5..8], &[inf, inf, inf]);
        // scipy gives -inf for gammaln(-inf) (math.lgamma says inf); scipy is the oracle.
        let l = lgamma(&[0.0, -0.0, -1.0, -3.0, -1e300, inf, -inf, f64::NAN, f64::MAX]);
        assert_eq!(&l[..7], &[inf, inf, inf, inf, inf, inf, -inf]);
        assert!(l[7].is_nan());
        assert_eq!(l[8], inf);
        assert_eq!(erf(&[inf, -inf]), vec![1.0, -1.0]);
        assert!(erf(&[f64::NAN])[0].is_nan());
        assert!(gamma(&[]).is_empty() && lgamma(&[]).is_empty() && erf(&[]).is_empty());
    }

    #[test]
    fn underflow_and_tiny_arguments_follow_scipy() {
        // gamma: signed zero where scipy's reflection formula overflows (true value < ~1.75e-308).
        let g = gamma(&[-170.7, -171.5, -172.00000000000003, -177.5, -184.5, -1000.5]);
        let bits: Vec<u64> = g.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u64> = [-0.0f64, 0.0, -0.0, 0.0, -0.0, -0.0]
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(bits, want);
        // lgamma: inf as soon as 1/x overflows, finite just above.
        let l = lgamma(&[
            5e-324,
            -5e-324,
            1.0 / f64::MAX * 0.99,
            1.0 / f64::MAX * 1.01,
        ]);
        assert_eq!(&l[..3], &[f64::INFINITY; 3]);
        assert!((l[3] - 709.772).abs() < 0.01);
    }

    proptest! {
        #[test]
        fn erf_is_odd_and_bounded(x in -50.0f64..50.0) {
            let v = erf(&[x, -x]);
            prop_assert_eq!(v[0], -v[1]);
            prop_assert!((-1.0..=1.0).contains(&v[0]));
        }

        #[test]
        fn gamma_recurrence(x in 0.01f64..170.0) {
            let v = gamma(&[x, x + 1.0]);
            prop_assert!((v[1] - x * v[0]).abs() <= 1e-13 * v[1]);
        }

        #[test]
        fn lgamma_is_log_abs_gamma(x in -30.0f64..170.0) {
            prop_assume!(x != x.floor());
            let g = gamma(&[x])[0];
            let l = lgamma(&[x])[0];
            let tol = 1e-13 * l.abs().max(1.0);
            prop_assert!((l - g.abs().ln()).abs() <= tol, "x={} l={} g={}", x, l, g);
        }

        #[test]
        fn elementwise_and_length_preserving(
            x in proptest::collection::vec(-200.0f64..200.0, 0..40),
        ) {
            let g = gamma(&x);
            let l = lgamma(&x);
            let e = erf(&x);
            prop_assert!(g.len() == x.len() && l.len() == x.len() && e.len() == x.len());
            for (i, &v) in x.iter().enumerate() {
                prop_assert_eq!(g[i].to_bits(), gamma(&[v])[0].to_bits());
                prop_assert_eq!(l[i].to_bits(), lgamma(&[v])[0].to_bits());
                prop_assert_eq!(e[i].to_bits(), erf(&[v])[0].to_bits());
            }
        }
    }
}
