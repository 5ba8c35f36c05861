//! An example wasmcore plugin: text statistics over bytes.
//!
//! Built with `wasmcore-abi` like the core, so it carries a manifest and the Python host gives
//! it typed attribute access (`plugin.count_words(b"...")`). It imports one host function,
//! `env.log(ptr, len)`, which the host must provide (`Plugin(..., host={"log": ...})`): the
//! plugin reports what it did through it. A module that imports it and is loaded without it is
//! rejected before it runs.

use wasmcore_abi::{Error, export};

/// Sends a UTF-8 message to the host's `log` function.
fn log(message: &str) {
    #[cfg(target_family = "wasm")]
    {
        #[link(wasm_import_module = "env")]
        unsafe extern "C" {
            /// The host's logger: reads `len` bytes of UTF-8 at `ptr` in this module's memory.
            #[link_name = "log"]
            fn host_log(ptr: *const u8, len: usize);
        }
        // SAFETY: the pointer and length describe `message`, which outlives the call; the host
        // only reads those bytes.
        unsafe { host_log(message.as_ptr(), message.len()) }
    }
    #[cfg(not(target_family = "wasm"))]
    let _ = message; // the native build (tests) has no host
}

/// The bytes Python's `bytes.split()` splits on (`u8::is_ascii_whitespace` lacks `\x0b`).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| is_space(b)).filter(|w| !w.is_empty())
}

/// Number of words in `text`: maximal runs of bytes other than ASCII whitespace (space, \t,
/// \n, \r, \x0b, \x0c), as `len(text.split())`.
#[export]
pub fn count_words(text: &[u8]) -> u32 {
    let n = words(text).count();
    log(&format!("count_words: {} bytes, {n} words", text.len()));
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Number of lines in `text`: newline bytes, plus one for a last line without one
/// (as `len(text.splitlines())` for `\n` line ends).
#[export]
pub fn count_lines(text: &[u8]) -> u32 {
    let newlines = text.iter().filter(|&&b| b == b'\n').count();
    let n = newlines + usize::from(!text.is_empty() && !text.ends_with(b"\n"));
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The longest word of `text` (the first of equal length); an error for text with no word.
#[export]
pub fn longest_word(text: &str) -> Result<String, Error> {
    let mut best: &[u8] = &[];
    for w in words(text.as_bytes()) {
        if w.len() > best.len() {
            best = w;
        }
    }
    if best.is_empty() {
        return Err(Error::value("text", "has no words"));
    }
    log(&format!("longest_word: {} bytes", best.len()));
    // ASCII-whitespace boundaries never split a UTF-8 sequence
    Ok(String::from_utf8_lossy(best).into_owned())
}

/// Counts of each byte value in `text` (256 counts).
#[export]
pub fn byte_histogram(text: &[u8]) -> Vec<u32> {
    let mut counts = vec![0u32; 256];
    for &b in text {
        counts[usize::from(b)] = counts[usize::from(b)].saturating_add(1);
    }
    counts
}

/// Mean word length in bytes (0 for no words).
#[export]
pub fn mean_word_length(text: &[u8]) -> f64 {
    let (mut n, mut total) = (0u64, 0u64);
    for w in words(text) {
        n += 1;
        total += w.len() as u64;
    }
    if n == 0 { 0.0 } else { total as f64 / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_and_lines() {
        assert_eq!(count_words(b"  the quick\tbrown\n\nfox "), 4);
        assert_eq!(count_words(b""), 0);
        assert_eq!(count_words(b"\x0ba\x0cb"), 2);
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b""), 0);
    }

    #[test]
    fn longest_word_and_errors() {
        assert_eq!(longest_word("a bbb cc ddd").unwrap(), "bbb");
        assert!(longest_word("  \n").is_err());
        assert_eq!(mean_word_length(b"ab abcd"), 3.0);
        assert_eq!(byte_histogram(b"aab")[usize::from(b'a')], 2);
    }
}
