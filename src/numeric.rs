//! Integer kernels: the classic benchmarks.

use wasmcore_abi::{Error, export};

/// Largest `n` whose Fibonacci number fits in a u64.
pub const FIB_MAX: u32 = 93;

/// Fibonacci number n by naive double recursion (fib(0)=0, fib(1)=1): the classic
/// call-overhead benchmark. n > 93 overflows a u64 and is a ValueError.
#[export]
pub fn fib(n: u32) -> Result<u64, Error> {
    if n > FIB_MAX {
        return Err(Error::value("n", format!("must be <= {FIB_MAX}, got {n}")));
    }
    Ok(fib_rec(n))
}

fn fib_rec(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib_rec(n - 1) + fib_rec(n - 2)
    }
}

/// Number of ways to draw cards (values 1..10, `cards[i]` of value i+1 left in the deck)
/// from a running total of `subtotal` until reaching 21 or more without going over: the
/// blackjack partition count of the classic ctypes example. `cards` holds 10 counts,
/// 0 <= subtotal <= 21; the caller's `cards` is not changed.
#[export]
pub fn partitions(cards: &[u32], subtotal: u32) -> Result<u64, Error> {
    let mut deck: [u32; 10] = cards
        .try_into()
        .map_err(|_| Error::value("cards", format!("must hold 10 counts, got {}", cards.len())))?;
    if subtotal > 21 {
        return Err(Error::value(
            "subtotal",
            format!("must be <= 21, got {subtotal}"),
        ));
    }
    Ok(partitions_rec(&mut deck, subtotal))
}

fn partitions_rec(deck: &mut [u32; 10], subtotal: u32) -> u64 {
    let mut result = 0;
    for i in 0..10 {
        if deck[i] > 0 {
            let total = subtotal + i as u32 + 1;
            if total < 21 {
                result += 1;
                deck[i] -= 1;
                result += partitions_rec(deck, total);
                deck[i] += 1;
            } else if total == 21 {
                result += 1;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_small_values_and_limit() {
        let expect = [0u64, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55];
        for (n, &f) in expect.iter().enumerate() {
            assert_eq!(fib(n as u32), Ok(f));
        }
        // the iterative definition, independent of the recursion
        let (mut a, mut b) = (0u64, 1u64);
        for n in 0..=30 {
            assert_eq!(fib(n), Ok(a));
            (a, b) = (b, a + b);
        }
        let e = fib(94).unwrap_err();
        assert_eq!(e.message(), "parameter 'n' must be <= 93, got 94");
    }

    #[test]
    fn partitions_matches_hand_counts() {
        // From 20, any 1 reaches 21: exactly one way per available ace.
        assert_eq!(partitions(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 20), Ok(1));
        assert_eq!(partitions(&[0; 10], 0), Ok(0));
        // From 19 with two aces: "1" (20, then "1" → 21) and "1,1" paths: 1 + 1 = 2,
        // and "2" is unavailable.
        assert_eq!(partitions(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0], 19), Ok(2));
        // From 11 with one ten: 11 + 10 = 21 → 1.
        assert_eq!(partitions(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 11), Ok(1));
        // Reaching 21 exactly ends a path; 21 itself has nothing left to draw.
        assert_eq!(partitions(&[4; 10], 21), Ok(0));
    }

    #[test]
    fn partitions_rejects_bad_input_and_keeps_cards() {
        let cards = [4u32; 10];
        let before = cards;
        partitions(&cards, 0).unwrap();
        assert_eq!(cards, before);
        assert!(
            partitions(&[1; 9], 0)
                .unwrap_err()
                .message()
                .contains("'cards'")
        );
        assert!(
            partitions(&[1; 10], 22)
                .unwrap_err()
                .message()
                .contains("'subtotal'")
        );
    }
}
