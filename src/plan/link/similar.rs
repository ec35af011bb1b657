//! String similarity over characters prepared once per record, without allocating for the
//! short values compared here (names, IDs, dates): the scoring loop runs on every thread, and
//! an allocation per comparison made the threads queue on the allocator's lock. The results
//! are strsim's (Jaro-Winkler; optimal string alignment), which the tests compare against.

/// Values up to this many characters are compared in stack buffers.
const STACK: usize = 64;

/// Jaro similarity, as `strsim::jaro` on the same characters.
pub fn jaro(a: &[char], b: &[char]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let range = (la.max(lb) / 2).saturating_sub(1);
    let mut stack = [false; 2 * STACK];
    let mut heap;
    let flags: &mut [bool] = if la + lb <= 2 * STACK {
        &mut stack[..la + lb]
    } else {
        heap = vec![false; la + lb];
        &mut heap
    };
    let (af, bf) = flags.split_at_mut(la);
    let mut matches = 0usize;
    for (i, x) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = lb.min(i + range + 1);
        for j in lo..hi {
            if !bf[j] && *x == b[j] {
                af[i] = true;
                bf[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0;
    for (i, x) in a.iter().enumerate() {
        if !af[i] {
            continue;
        }
        while !bf[j] {
            j += 1;
        }
        if *x != b[j] {
            transpositions += 1;
        }
        j += 1;
    }
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

/// Jaro-Winkler similarity (prefix up to 4, scale 0.1, above 0.7), as `strsim::jaro_winkler`.
pub fn jaro_winkler(a: &[char], b: &[char]) -> f64 {
    let sim = jaro(a, b);
    if sim > 0.7 {
        let prefix = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Optimal string alignment distance (insertions, deletions, substitutions and adjacent
/// transpositions, no substring edited twice), as `strsim::osa_distance`.
pub fn osa(a: &[char], b: &[char]) -> usize {
    let lb = b.len();
    let mut stack = [0usize; 3 * (STACK + 1)];
    let mut heap;
    let rows: &mut [usize] = if lb <= STACK {
        &mut stack[..3 * (lb + 1)]
    } else {
        heap = vec![0usize; 3 * (lb + 1)];
        &mut heap
    };
    let (two, rest) = rows.split_at_mut(lb + 1);
    let (one, cur) = rest.split_at_mut(lb + 1);
    let (mut two, mut one, mut cur) = (two, one, cur);
    for (j, v) in one.iter_mut().enumerate() {
        *v = j;
    }
    two.copy_from_slice(one);
    for (i, &x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let cost = usize::from(x != y);
            let mut d = (cur[j] + 1).min(one[j + 1] + 1).min(one[j] + cost);
            if i > 0 && j > 0 && x != y && x == b[j - 1] && y == a[i - 1] {
                d = d.min(two[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut two, &mut one);
        std::mem::swap(&mut one, &mut cur);
    }
    one[lb]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// Pairs of every kind: equal, empty, one character, transpositions, repeats, CJK, long
    /// (past the stack buffers), and a seeded stream of random strings over a small alphabet
    /// (so that matches, repeats and transpositions are common).
    fn cases() -> Vec<(String, String)> {
        const ALPHABET: [char; 5] = ['a', 'b', 'c', '王', 'd'];
        let mut out: Vec<(String, String)> = [
            ("", ""),
            ("", "a"),
            ("a", "a"),
            ("a", "b"),
            ("ab", "ba"),
            ("martha", "marhta"),
            ("dixon", "dicksonx"),
            ("jellyfish", "smellyfish"),
            ("张伟", "張偉"),
            ("320102195003011238", "320102195003011283"),
            ("320102195003011238", "32010219500301123"),
            ("aaaa", "aa"),
            ("abcabcabc", "cbacbacba"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let long_a = "kingscote street ".repeat(6);
        let long_b = "kingscote sreet ".repeat(6);
        out.push((long_a.clone(), long_b.clone()));
        out.push((long_a, "k".into()));
        let mut x: u64 = 0x5EED;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        for _ in 0..20_000 {
            let (la, lb) = (next() % 12, next() % 12);
            let a: String = (0..la).map(|_| ALPHABET[next() % 5]).collect();
            let b: String = (0..lb).map(|_| ALPHABET[next() % 5]).collect();
            out.push((a, b));
        }
        out
    }

    #[test]
    fn the_same_as_strsim() {
        for (a, b) in cases() {
            let (ca, cb) = (chars(&a), chars(&b));
            assert_eq!(
                jaro_winkler(&ca, &cb).to_bits(),
                strsim::jaro_winkler(&a, &b).to_bits(),
                "jaro_winkler({a:?}, {b:?})"
            );
            assert_eq!(
                osa(&ca, &cb),
                strsim::osa_distance(&a, &b),
                "osa({a:?}, {b:?})"
            );
        }
    }
}
