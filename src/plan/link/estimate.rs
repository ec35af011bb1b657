//! Estimating the Fellegi–Sunter weights from the data: u from random record pairs, m by
//! expectation-maximisation over the candidate pairs' patterns of levels (u held fixed), and
//! the share of matches among the candidates, from which the prior follows.

use serde::{Deserialize, Serialize};

/// The weights of one field, lowest level first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldWeights {
    pub field: String,
    pub levels: Vec<String>,
    /// P(level | the two records are one person).
    pub m: Vec<f64>,
    /// P(level | two records drawn at random).
    pub u: Vec<f64>,
    /// log2(m / u) per level: what agreeing at that level adds to a pair's weight.
    pub weight: Vec<f64>,
    pub m_estimated: bool,
    pub u_estimated: bool,
    pub term_frequency: bool,
}

/// What a `link` rule estimated and found, written to the run (manifest and a sheet) so an
/// inspector can see why a pair scored what it did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estimated {
    pub rule: String,
    /// P(two records drawn at random are one person).
    pub prior: f64,
    pub prior_estimated: bool,
    /// The estimated share of one-person pairs among the candidates.
    pub candidate_match_share: f64,
    pub candidates: u64,
    pub pairs_by_blocking_rule: Vec<(String, u64)>,
    pub u_pairs: u64,
    pub em_iterations: usize,
    pub threshold: f64,
    pub pairs_at_threshold: u64,
    pub fields: Vec<FieldWeights>,
}

/// Random pairs' worth of the method's default u (`compare::u_default`) added to the sampled
/// ones: a few records cannot make a level's weight extreme.
const U_PRIOR_PAIRS: f64 = 100.0;
/// One-person pairs' worth of the starting m added to the estimated ones, likewise.
const M_PRIOR_PAIRS: f64 = 10.0;

/// u per level from the levels of random pairs (`counts`), with the default's pairs added
/// (so a level never seen among them is rare, not impossible).
pub fn u_from_counts(counts: &[u64], default: &[f64]) -> Vec<f64> {
    let n: u64 = counts.iter().sum();
    counts
        .iter()
        .zip(default)
        .map(|(&c, d)| (c as f64 + U_PRIOR_PAIRS * d) / (n as f64 + U_PRIOR_PAIRS))
        .collect()
}

/// The starting m: most one-person pairs agree at the top level.
pub fn m_start(levels: usize) -> Vec<f64> {
    let rest = 0.1 / (levels - 1).max(1) as f64;
    (0..levels)
        .map(|l| if l + 1 == levels { 0.9 } else { rest })
        .collect()
}

/// Expectation-maximisation over the distinct patterns of levels of the candidate pairs
/// (`-1`: NULL), each with its count, among `population` pairs in all (the others taken as
/// two people). `m` holds the starting values and receives the estimates, except where
/// `fixed`; returns the prior (the share of one-person pairs in the population, kept at
/// `prior` when `prior_fixed`) and the iterations.
pub fn em(
    patterns: &[(Vec<i8>, f64)],
    u: &[Vec<f64>],
    m: &mut [Vec<f64>],
    fixed: &[bool],
    prior: f64,
    population: f64,
    prior_fixed: bool,
) -> (f64, usize) {
    const MAX_ITERATIONS: usize = 1000;
    let total: f64 = patterns.iter().map(|(_, c)| c).sum();
    let population = population.max(total);
    let mut lambda = prior.clamp(1e-12, 0.999);
    if total == 0.0 {
        return (lambda, 0);
    }
    for it in 1..=MAX_ITERATIONS {
        let mut num: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut matched = 0.0;
        for (pattern, count) in patterns {
            let (mut lm, mut lu) = (lambda.ln(), (1.0 - lambda).ln());
            for (k, &l) in pattern.iter().enumerate() {
                if l >= 0 {
                    lm += m[k][l as usize].ln();
                    lu += u[k][l as usize].ln();
                }
            }
            let p = 1.0 / (1.0 + (lu - lm).exp());
            matched += p * count;
            for (k, &l) in pattern.iter().enumerate() {
                if l >= 0 {
                    num[k][l as usize] += p * count;
                }
            }
        }
        let mut change: f64 = 0.0;
        for (k, row) in num.iter().enumerate() {
            if fixed[k] {
                continue;
            }
            let seen: f64 = row.iter().sum();
            if seen <= 0.0 {
                continue;
            }
            let start = m_start(row.len());
            for (l, v) in row.iter().enumerate() {
                let next = (v + M_PRIOR_PAIRS * start[l]) / (seen + M_PRIOR_PAIRS);
                change = change.max((next - m[k][l]).abs());
                m[k][l] = next;
            }
        }
        if !prior_fixed {
            let next = (matched / population).clamp(1e-12, 0.999);
            change = change.max(((next - lambda) / lambda).abs() * 1e-3);
            lambda = next;
        }
        if change < 1e-7 {
            return (lambda, it);
        }
    }
    (lambda, MAX_ITERATIONS)
}

/// Weights with every partial agreement between disagreement and full agreement: a level
/// few pairs show (a swapped date, IDs two characters apart) could otherwise weigh a near
/// match below a disagreement, or above the same value.
pub fn monotone(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut w: Vec<f64> = weights.collect();
    if w.len() > 2 {
        let (low, high) = (w[0], w[w.len() - 1]);
        let top = w.len() - 1;
        for v in &mut w[1..top] {
            *v = v.clamp(low.min(high), high.max(low));
        }
    }
    w
}

/// log2(p / (1 - p)).
pub fn logit2(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

/// The probability of a weight: 1 / (1 + 2^-w).
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs drawn from a known model come back with its m and match share.
    #[test]
    fn em_recovers_a_known_model() {
        let m_true = [vec![0.05, 0.15, 0.8], vec![0.1, 0.9]];
        let u = vec![vec![0.9, 0.08, 0.02], vec![0.7, 0.3]];
        let lambda_true = 0.2;
        let mut patterns = Vec::new();
        for a in 0..3 {
            for b in 0..2 {
                let c = 1e6
                    * (lambda_true * m_true[0][a] * m_true[1][b]
                        + (1.0 - lambda_true) * u[0][a] * u[1][b]);
                patterns.push((vec![a as i8, b as i8], c));
            }
        }
        // A third field, NULL on every pair, must not disturb the others.
        let mut m = vec![m_start(3), m_start(2)];
        let (lambda, iterations) = em(&patterns, &u, &mut m, &[false, false], 0.5, 1e6, false);
        assert!((lambda - lambda_true).abs() < 1e-3, "lambda {lambda}");
        for (est, truth) in m.iter().zip(&m_true) {
            for (a, b) in est.iter().zip(truth) {
                assert!((a - b).abs() < 2e-3, "{est:?} vs {truth:?}");
            }
        }
        assert!(
            iterations > 1 && iterations < 1000,
            "{iterations} iterations"
        );
    }

    #[test]
    fn fixed_m_is_kept_and_unseen_levels_stay_finite() {
        let u = vec![vec![0.9, 0.1]];
        let mut m = vec![vec![0.3, 0.7]];
        let patterns = vec![(vec![1i8], 10.0), (vec![0i8], 90.0)];
        em(&patterns, &u, &mut m, &[true], 0.1, 100.0, false);
        assert_eq!(
            monotone([-3.0, -9.0, 17.0, 1.0, 5.0].into_iter()),
            vec![-3.0, -3.0, 5.0, 1.0, 5.0]
        );
        assert_eq!(m[0], vec![0.3, 0.7]);
        let u = u_from_counts(&[100_000, 0], &[0.99, 0.01]);
        assert!(u[1] > 0.0 && u[1] < 1e-4);
        assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((probability(logit2(0.25)) - 0.25).abs() < 1e-12);
    }
}
