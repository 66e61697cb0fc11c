//! Fractional positions: strings that sort between any two others, so that an item is
//! placed or moved by writing its own position only (no renumbering of its neighbours).
//!
//! The scheme of David Greenspan's "Implementing Fractional Indexing" (as in the npm
//! package `fractional-indexing`): a position is an integer part (a head letter giving
//! its length, `a` = 2 characters, `b` = 3..., `Z`, `Y`... below zero) and a fractional
//! part without trailing zeros; digits are base 62 (`0-9A-Za-z`, in ASCII order). Appends
//! and prepends step the integer (short: 10,000 appends end near `b2Bi`); inserts between
//! neighbours take a midpoint of the fractional parts.

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ZERO: u8 = b'0';
const TOP: u8 = b'z';

fn value_of(byte: u8) -> Option<usize> {
    let value = match byte {
        b'0'..=b'9' => byte - b'0',
        b'A'..=b'Z' => byte - b'A' + 10,
        b'a'..=b'z' => byte - b'a' + 36,
        _ => return None,
    };
    Some(usize::from(value))
}

/// Length of the integer part that `head` starts.
fn integer_length(head: u8) -> Option<usize> {
    match head {
        b'a'..=b'z' => Some(usize::from(head - b'a') + 2),
        b'A'..=b'Z' => Some(usize::from(b'Z' - head) + 2),
        _ => None,
    }
}

/// The smallest integer part (`A` and 26 zeros): nothing can be placed before it.
fn smallest() -> Vec<u8> {
    let mut out = vec![b'A'];
    out.extend(std::iter::repeat(ZERO).take(26));
    out
}

/// Splits a position into its integer and fractional parts.
fn parts(position: &[u8]) -> Option<(&[u8], &[u8])> {
    let length = integer_length(*position.first()?)?;
    (position.len() >= length).then(|| position.split_at(length))
}

/// Whether `text` is a position this module could have made.
pub fn is_position(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() > 512 || !bytes.iter().skip(1).all(|b| value_of(*b).is_some()) {
        return false;
    }
    match parts(bytes) {
        Some((integer, fraction)) => {
            integer != smallest().as_slice() && fraction.last() != Some(&ZERO)
        }
        None => false,
    }
}

/// A position after `a` (`None`: the start) and before `b` (`None`: the end); `a` must
/// sort before `b`. Invalid inputs (not positions) are treated as absent, so that a
/// position is always returned.
pub fn between(a: Option<&str>, b: Option<&str>) -> String {
    let a = a.filter(|a| is_position(a)).map(str::as_bytes);
    let b = b.filter(|b| is_position(b)).map(str::as_bytes);
    let b = match (a, b) {
        (Some(a), Some(b)) if a >= b => None,
        (_, b) => b,
    };
    String::from_utf8(key_between(a, b)).unwrap_or_default()
}

fn key_between(a: Option<&[u8]>, b: Option<&[u8]>) -> Vec<u8> {
    match (a, b) {
        (None, None) => b"a0".to_vec(),
        (None, Some(b)) => {
            let Some((ib, fb)) = parts(b) else {
                return b"a0".to_vec();
            };
            if ib == smallest().as_slice() {
                return concat(ib, &midpoint(b"", Some(fb)));
            }
            if ib.len() < b.len() {
                return ib.to_vec();
            }
            decrement(ib).unwrap_or_else(|| concat(ib, &midpoint(b"", Some(fb))))
        }
        (Some(a), None) => {
            let Some((ia, fa)) = parts(a) else {
                return b"a0".to_vec();
            };
            increment(ia).unwrap_or_else(|| concat(ia, &midpoint(fa, None)))
        }
        (Some(a), Some(b)) => {
            let (Some((ia, fa)), Some((ib, fb))) = (parts(a), parts(b)) else {
                return b"a0".to_vec();
            };
            if ia == ib {
                return concat(ia, &midpoint(fa, Some(fb)));
            }
            match increment(ia) {
                Some(next) if next.as_slice() < b => next,
                _ => concat(ia, &midpoint(fa, None)),
            }
        }
    }
}

fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    out.extend_from_slice(b);
    out
}

/// A fractional part strictly between `a` and `b` (`None`: 1), without trailing zeros.
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut a, mut b) = (a, b);
    loop {
        if let Some(bb) = b {
            // The common prefix (`a` padded with zeros) is kept as it is.
            let n = (0..bb.len())
                .take_while(|&i| a.get(i).copied().unwrap_or(ZERO) == bb[i])
                .count();
            if n > 0 {
                out.extend_from_slice(&bb[..n]);
                a = a.get(n..).unwrap_or_default();
                b = Some(&bb[n..]);
                continue;
            }
        }
        let low = a.first().and_then(|d| value_of(*d)).unwrap_or(0);
        let high = b
            .and_then(|b| b.first())
            .and_then(|d| value_of(*d))
            .unwrap_or(62);
        if high - low > 1 {
            out.push(DIGITS[(low + high).div_ceil(2)]);
            return out;
        }
        // Consecutive digits: `b`'s first digit alone sorts between when `b` goes on.
        if let Some(bb) = b.filter(|bb| bb.len() > 1) {
            out.push(bb[0]);
            return out;
        }
        out.push(DIGITS[low]);
        a = a.get(1..).unwrap_or_default();
        b = None;
    }
}

/// The next integer part, or `None` past the largest.
fn increment(integer: &[u8]) -> Option<Vec<u8>> {
    let (head, digits) = integer.split_first()?;
    let mut digits = digits.to_vec();
    for d in digits.iter_mut().rev() {
        if *d == TOP {
            *d = ZERO;
        } else {
            *d = DIGITS[value_of(*d)? + 1];
            return Some(concat(&[*head], &digits));
        }
    }
    // Every digit carried: the integer grows by one digit (or crosses zero).
    match *head {
        b'Z' => Some(b"a0".to_vec()),
        b'z' => None,
        head => {
            let next = head + 1;
            if next > b'a' {
                digits.push(ZERO);
            } else {
                digits.pop();
            }
            Some(concat(&[next], &digits))
        }
    }
}

/// The previous integer part, or `None` below the smallest.
fn decrement(integer: &[u8]) -> Option<Vec<u8>> {
    let (head, digits) = integer.split_first()?;
    let mut digits = digits.to_vec();
    for d in digits.iter_mut().rev() {
        if *d == ZERO {
            *d = TOP;
        } else {
            *d = DIGITS[value_of(*d)? - 1];
            return Some(concat(&[*head], &digits));
        }
    }
    match *head {
        b'a' => Some(b"Zz".to_vec()),
        b'A' => None,
        head => {
            let next = head - 1;
            if next < b'Z' {
                digits.push(TOP);
            } else {
                digits.pop();
            }
            Some(concat(&[next], &digits))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn positions_sort_between_their_neighbours() {
        let first = between(None, None);
        assert_eq!(first, "a0");
        let after = between(Some(&first), None);
        let before = between(None, Some(&first));
        let inside = between(Some(&first), Some(&after));
        for (lo, mid, hi) in [
            ("", first.as_str(), after.as_str()),
            (before.as_str(), first.as_str(), after.as_str()),
            (first.as_str(), inside.as_str(), after.as_str()),
        ] {
            assert!(lo < mid && mid < hi, "{lo} < {mid} < {hi}");
            assert!(is_position(mid), "{mid}");
        }
        // Many appends and many inserts at the front stay short and ordered.
        let mut last = between(None, None);
        for _ in 0..10_000 {
            let next = between(Some(&last), None);
            assert!(next > last && is_position(&next), "{next} after {last}");
            last = next;
        }
        assert!(last.len() <= 4, "{last}");
        let mut front = between(None, None);
        for _ in 0..10_000 {
            let next = between(None, Some(&front));
            assert!(next < front && is_position(&next), "{next} before {front}");
            front = next;
        }
        assert!(front.len() <= 4, "{front}");
        // Not positions: treated as absent.
        assert!(is_position(&between(Some("not a position"), Some("a0~"))));
    }

    proptest! {
        #[test]
        fn any_insertion_lands_strictly_between(choices in proptest::collection::vec(0usize..1000, 1..300)) {
            let mut list: Vec<String> = Vec::new();
            for choice in choices {
                let at = choice % (list.len() + 1);
                let lo = if at == 0 { None } else { Some(list[at - 1].as_str()) };
                let hi = list.get(at).map(String::as_str);
                let new = between(lo, hi);
                prop_assert!(is_position(&new), "{}", new);
                if let Some(lo) = lo {
                    prop_assert!(lo < new.as_str(), "{} < {}", lo, new);
                }
                if let Some(hi) = hi {
                    prop_assert!(new.as_str() < hi, "{} < {}", new, hi);
                }
                list.insert(at, new);
            }
        }
    }
}
