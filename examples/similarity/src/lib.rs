//! String similarity for Python: the `strsim` crate behind `#[export]`.
//!
//! An example of an author bringing existing Rust code to Python with wasmcore: each function
//! here is a thin wrapper that fixes the Python-facing types (lengths as `u64`, a `ValueError`
//! instead of strsim's `Err`), and the crate does the work. Strings are compared by Unicode
//! scalar values (Python's code points).

use wasmcore_abi::{Error, export};

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Levenshtein distance: the fewest single-character insertions, deletions and substitutions
/// that turn `a` into `b`.
#[export]
pub fn levenshtein(a: &str, b: &str) -> u64 {
    count(strsim::levenshtein(a, b))
}

/// `1 - levenshtein(a, b) / max(len(a), len(b))`, between 0.0 and 1.0 (1.0 for two empty
/// strings).
#[export]
pub fn normalized_levenshtein(a: &str, b: &str) -> f64 {
    strsim::normalized_levenshtein(a, b)
}

/// Optimal string alignment distance: Levenshtein plus transpositions of adjacent characters,
/// no substring edited twice.
#[export]
pub fn osa_distance(a: &str, b: &str) -> u64 {
    count(strsim::osa_distance(a, b))
}

/// Damerau-Levenshtein distance: Levenshtein plus transpositions of adjacent characters.
#[export]
pub fn damerau_levenshtein(a: &str, b: &str) -> u64 {
    count(strsim::damerau_levenshtein(a, b))
}

/// Jaro similarity, between 0.0 and 1.0.
#[export]
pub fn jaro(a: &str, b: &str) -> f64 {
    strsim::jaro(a, b)
}

/// Jaro-Winkler similarity: Jaro with a bonus for a common prefix of up to 4 characters.
#[export]
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(a, b)
}

/// Hamming distance: the number of positions where `a` and `b` differ; a `ValueError` when
/// they do not have the same length.
#[export]
pub fn hamming(a: &str, b: &str) -> Result<u64, Error> {
    strsim::hamming(a, b).map(count).map_err(|_| {
        Error::value(
            "b",
            format!(
                "must have the length of 'a' ({} characters), got {}",
                a.chars().count(),
                b.chars().count()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(osa_distance("ab", "ba"), 1);
        assert_eq!(hamming("karolin", "kathrin"), Ok(3));
        assert!(hamming("a", "ab").is_err());
    }
}
