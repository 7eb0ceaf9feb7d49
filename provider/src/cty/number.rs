//! Terraform numbers: arbitrary-precision decimals that never lose digits.
//!
//! Terraform (through go-cty) keeps numbers as big binary floats with 512 bits
//! of mantissa, and puts them on the wire as a msgpack integer when the value
//! is an exact `int64`, as a float64 when it is exactly a binary64, and as a
//! decimal string otherwise. This module keeps every number either as the
//! binary64 it arrived as or as an exact decimal, so each one can be written
//! back in the same form go-cty would choose.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Largest decimal exponent (position of the leading digit) accepted when
/// parsing. Far beyond binary64 range; it only stops a short input such as
/// `1e999999999` from expanding into gigabytes of digits when printed.
const MAX_MAGNITUDE: i64 = 10_000;

/// A number as Terraform's type system carries it.
///
/// Equality is numeric: `Number::from(3)` equals `Number::try_from(3.0)`.
#[derive(Clone)]
pub struct Number(Repr);

#[derive(Clone)]
enum Repr {
    /// A value that came from a binary64 (a msgpack float, or `from_f64`).
    /// Never NaN and never negative zero. Printed as the shortest decimal that
    /// reads back as the same binary64, as go-cty does for such values.
    Binary(f64),
    /// An exact decimal: `(-1)^negative × digits × 10^exp`. `digits` are
    /// ASCII with no leading or trailing zeros; zero has no digits.
    /// `exact_f64` holds the binary64 with exactly this value, when one exists.
    Decimal {
        negative: bool,
        digits: Box<str>,
        exp: i64,
        exact_f64: Option<f64>,
    },
}

/// A string could not be read as a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse {input:?} as a number: {reason}")]
pub struct NumberError {
    /// The text that was rejected.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl Number {
    /// The number zero.
    pub fn zero() -> Number {
        Number(Repr::Binary(0.0))
    }

    /// Positive infinity (go-cty's `cty.PositiveInfinity`).
    pub fn infinity() -> Number {
        Number(Repr::Binary(f64::INFINITY))
    }

    /// Negative infinity (go-cty's `cty.NegativeInfinity`).
    pub fn neg_infinity() -> Number {
        Number(Repr::Binary(f64::NEG_INFINITY))
    }

    /// Wraps a binary64; `None` for NaN, which Terraform has no value for.
    pub fn from_f64(value: f64) -> Option<Number> {
        if value.is_nan() {
            None
        } else if value == 0.0 {
            Some(Number::zero())
        } else {
            Some(Number(Repr::Binary(value)))
        }
    }

    /// Parses a decimal number: optional sign, digits with an optional
    /// fraction, optional exponent (`-12.5e3`); also `inf`/`Inf` with a sign.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let fail = |reason| NumberError {
            input: text.to_owned(),
            reason,
        };
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "inf" || rest == "Inf" {
            return Ok(if negative {
                Number::neg_infinity()
            } else {
                Number::infinity()
            });
        }
        let bytes = rest.as_bytes();
        let mut pos = 0;
        let mut digits = Vec::with_capacity(bytes.len());
        let mut exp: i64 = 0;
        let mut seen_digit = false;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            digits.push(bytes[pos]);
            seen_digit = true;
            pos += 1;
        }
        if pos < bytes.len() && bytes[pos] == b'.' {
            pos += 1;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                digits.push(bytes[pos]);
                exp -= 1;
                seen_digit = true;
                pos += 1;
            }
        }
        if !seen_digit {
            return Err(fail("no digits"));
        }
        if pos < bytes.len() && (bytes[pos] == b'e' || bytes[pos] == b'E') {
            pos += 1;
            let exp_negative = match bytes.get(pos) {
                Some(b'-') => {
                    pos += 1;
                    true
                }
                Some(b'+') => {
                    pos += 1;
                    false
                }
                _ => false,
            };
            let start = pos;
            let mut written: i64 = 0;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                // Saturate: anything this large is rejected by the range check.
                written = written
                    .saturating_mul(10)
                    .saturating_add(i64::from(bytes[pos] - b'0'));
                pos += 1;
            }
            if pos == start {
                return Err(fail("exponent has no digits"));
            }
            exp = exp.saturating_add(if exp_negative { -written } else { written });
        }
        if pos != bytes.len() {
            return Err(fail("unexpected character"));
        }
        Number::from_decimal_parts(negative, digits, exp).ok_or_else(|| fail("out of range"))
    }

    /// Builds a number from decimal digits (ASCII) and a power-of-ten exponent.
    /// `None` when the magnitude is beyond the supported range.
    fn from_decimal_parts(negative: bool, mut digits: Vec<u8>, mut exp: i64) -> Option<Number> {
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        digits.drain(..leading);
        while digits.last() == Some(&b'0') {
            digits.pop();
            exp += 1;
        }
        if digits.is_empty() {
            return Some(Number::zero());
        }
        let magnitude = exp.checked_add(digits.len() as i64)?;
        if !(-MAX_MAGNITUDE..=MAX_MAGNITUDE).contains(&magnitude) {
            return None;
        }
        let exact_f64 = exact_binary64(negative, &digits, exp);
        let digits = String::from_utf8(digits).ok()?.into_boxed_str();
        Some(Number(Repr::Decimal {
            negative,
            digits,
            exp,
            exact_f64,
        }))
    }

    /// The binary64 with exactly this value, if there is one.
    pub fn exact_f64(&self) -> Option<f64> {
        match &self.0 {
            Repr::Binary(f) => Some(*f),
            Repr::Decimal { exact_f64, .. } => *exact_f64,
        }
    }

    /// The nearest binary64 (correctly rounded; huge values become infinite).
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Repr::Binary(f) => *f,
            Repr::Decimal {
                negative,
                digits,
                exp,
                exact_f64,
            } => exact_f64.unwrap_or_else(|| {
                let sign = if *negative { "-" } else { "" };
                // The text is well formed by construction, so parsing succeeds.
                format!("{sign}{digits}e{exp}").parse().unwrap_or(f64::NAN)
            }),
        }
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// The value as a `u64` when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|v| u64::try_from(v).ok())
    }

    fn as_i128(&self) -> Option<i128> {
        match &self.0 {
            Repr::Binary(f) => {
                // Every integral binary64 below 2^64 in magnitude fits an i128.
                if f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0 {
                    Some(*f as i128)
                } else {
                    None
                }
            }
            Repr::Decimal {
                negative,
                digits,
                exp,
                ..
            } => {
                if *exp < 0 || digits.len() as i64 + exp > 20 {
                    return None;
                }
                let mut v: i128 = 0;
                for d in digits.bytes() {
                    v = v * 10 + i128::from(d - b'0');
                }
                for _ in 0..*exp {
                    v *= 10;
                }
                Some(if *negative { -v } else { v })
            }
        }
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Binary(f) => f.is_finite() && f.fract() == 0.0,
            Repr::Decimal { exp, .. } => *exp >= 0,
        }
    }

    /// Whether the value is finite (not one of the infinities).
    pub fn is_finite(&self) -> bool {
        match &self.0 {
            Repr::Binary(f) => f.is_finite(),
            Repr::Decimal { .. } => true,
        }
    }

    /// The exact decimal expansion, whatever the number came from.
    fn exact_decimal(&self) -> Option<(bool, String, i64)> {
        match &self.0 {
            Repr::Binary(f) if !f.is_finite() => None,
            Repr::Binary(f) => Some(binary64_to_decimal(*f)),
            Repr::Decimal {
                negative,
                digits,
                exp,
                ..
            } => Some((*negative, digits.to_string(), *exp)),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self.exact_f64(), other.exact_f64()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.exact_decimal() == other.exact_decimal(),
            _ => false,
        }
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must agree with `eq`: values equal to a binary64 hash by its bits.
        match self.exact_f64() {
            Some(f) => {
                0u8.hash(state);
                f.to_bits().hash(state);
            }
            None => {
                1u8.hash(state);
                self.exact_decimal().hash(state);
            }
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        if self == other {
            return Ordering::Equal;
        }
        match (self.exact_decimal(), other.exact_decimal()) {
            (Some(a), Some(b)) => compare_decimals(&a, &b),
            // At least one side is infinite.
            _ => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }
}

fn compare_decimals(a: &(bool, String, i64), b: &(bool, String, i64)) -> Ordering {
    let sign = |d: &(bool, String, i64)| -> i8 {
        if d.1.is_empty() {
            0
        } else if d.0 {
            -1
        } else {
            1
        }
    };
    let (sa, sb) = (sign(a), sign(b));
    if sa != sb {
        return sa.cmp(&sb);
    }
    // Same sign: compare magnitudes by leading-digit position, then digits.
    let mag = |d: &(bool, String, i64)| d.1.len() as i64 + d.2;
    let by_magnitude = mag(a)
        .cmp(&mag(b))
        .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()));
    if sa < 0 {
        by_magnitude.reverse()
    } else {
        by_magnitude
    }
}

impl fmt::Display for Number {
    /// Plain decimal notation without an exponent, as go-cty writes numbers
    /// (`big.Float.Text('f', -1)`): `1000000000000000000000`, `0.001`, `-2.5`.
    /// The infinities print as `+Inf` and `-Inf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Binary(v) if v.is_infinite() => {
                f.write_str(if *v > 0.0 { "+Inf" } else { "-Inf" })
            }
            // Rust prints binary64 as the shortest round-tripping digits in
            // positional notation, which is what go-cty prints for 53-bit floats.
            Repr::Binary(v) => write!(f, "{v}"),
            Repr::Decimal {
                negative,
                digits,
                exp,
                ..
            } => {
                if *negative {
                    f.write_str("-")?;
                }
                write_positional(f, digits, *exp)
            }
        }
    }
}

fn write_positional(f: &mut impl fmt::Write, digits: &str, exp: i64) -> fmt::Result {
    if digits.is_empty() {
        return f.write_str("0");
    }
    if exp >= 0 {
        f.write_str(digits)?;
        for _ in 0..exp {
            f.write_char('0')?;
        }
        return Ok(());
    }
    let int_len = digits.len() as i64 + exp;
    if int_len > 0 {
        let split = int_len as usize;
        write!(f, "{}.{}", &digits[..split], &digits[split..])
    } else {
        f.write_str("0.")?;
        for _ in 0..-int_len {
            f.write_char('0')?;
        }
        f.write_str(digits)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        let negative = value < 0;
        let digits = value.unsigned_abs().to_string().into_bytes();
        // In range by construction: at most 20 digits.
        Number::from_decimal_parts(negative, digits, 0).unwrap_or_else(Number::zero)
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Number {
        let digits = value.to_string().into_bytes();
        Number::from_decimal_parts(false, digits, 0).unwrap_or_else(Number::zero)
    }
}

impl From<i32> for Number {
    fn from(value: i32) -> Number {
        Number::from(i64::from(value))
    }
}

impl From<u32> for Number {
    fn from(value: u32) -> Number {
        Number::from(i64::from(value))
    }
}

impl TryFrom<f64> for Number {
    type Error = NumberError;
    fn try_from(value: f64) -> Result<Number, NumberError> {
        Number::from_f64(value).ok_or(NumberError {
            input: "NaN".to_owned(),
            reason: "NaN is not a number",
        })
    }
}

/// The binary64 equal to `±digits × 10^exp`, if one exists. `digits` are
/// canonical (no leading or trailing zeros, not empty).
fn exact_binary64(negative: bool, digits: &[u8], exp: i64) -> Option<f64> {
    // A non-integer is dyadic only if 5^-exp divides the digits, which needs
    // the last digit to be 5 (it is never 0 here).
    if exp < 0 && digits.last() != Some(&b'5') {
        return None;
    }
    // Every binary64 has at most 767 significant decimal digits.
    if digits.len() > 800 {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let text = format!("{sign}{}e{exp}", std::str::from_utf8(digits).ok()?);
    let nearest: f64 = text.parse().ok()?;
    if !nearest.is_finite() || nearest == 0.0 {
        return None;
    }
    // Integers below 10^15 < 2^53 are always exact.
    if exp >= 0 && digits.len() as i64 + exp <= 15 {
        return Some(nearest);
    }
    let (n_neg, n_digits, n_exp) = binary64_to_decimal(nearest);
    (n_neg == negative && n_digits.as_bytes() == digits && n_exp == exp).then_some(nearest)
}

/// The exact decimal expansion of a finite binary64, canonical (no trailing
/// zeros in the digits; zero has no digits).
fn binary64_to_decimal(value: f64) -> (bool, String, i64) {
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mut mantissa, mut exp2) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if mantissa == 0 {
        return (false, String::new(), 0);
    }
    while mantissa % 2 == 0 {
        mantissa /= 2;
        exp2 += 1;
    }
    let mut big = BigDecimalInt::from_u64(mantissa);
    let exp10 = if exp2 >= 0 {
        big.mul_pow(2, exp2 as u32);
        0
    } else {
        // m × 2^-k = m × 5^k × 10^-k
        big.mul_pow(5, (-exp2) as u32);
        exp2
    };
    let mut digits = big.to_decimal_string();
    let mut exp10 = exp10;
    while digits.ends_with('0') {
        digits.pop();
        exp10 += 1;
    }
    (negative, digits, exp10)
}

/// Just enough of an unsigned big integer to expand binary64 values exactly:
/// little-endian limbs in base 10^9.
struct BigDecimalInt {
    limbs: Vec<u64>,
}

const LIMB_BASE: u64 = 1_000_000_000;

impl BigDecimalInt {
    fn from_u64(mut value: u64) -> BigDecimalInt {
        let mut limbs = Vec::new();
        while value > 0 {
            limbs.push(value % LIMB_BASE);
            value /= LIMB_BASE;
        }
        BigDecimalInt { limbs }
    }

    fn mul_small(&mut self, factor: u64) {
        let mut carry = 0u64;
        for limb in &mut self.limbs {
            let product = *limb * factor + carry;
            *limb = product % LIMB_BASE;
            carry = product / LIMB_BASE;
        }
        while carry > 0 {
            self.limbs.push(carry % LIMB_BASE);
            carry /= LIMB_BASE;
        }
    }

    /// Multiplies by `base^power` for base 2 or 5, in chunks that keep each
    /// factor below the limb base.
    fn mul_pow(&mut self, base: u64, power: u32) {
        let chunk = if base == 2 { 29 } else { 12 };
        let mut left = power;
        while left > 0 {
            let step = left.min(chunk);
            self.mul_small(base.pow(step));
            left -= step;
        }
    }

    fn to_decimal_string(&self) -> String {
        let mut out = String::new();
        for (i, limb) in self.limbs.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&limb.to_string());
            } else {
                out.push_str(&format!("{limb:09}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_plain_decimals() {
        for (input, printed) in [
            ("0", "0"),
            ("-0", "0"),
            ("1.50", "1.5"),
            ("1e3", "1000"),
            ("0.001", "0.001"),
            ("-12.5e-3", "-0.0125"),
            ("+7", "7"),
            (".5", "0.5"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("1e30", "1000000000000000000000000000000"),
            ("0.1", "0.1"),
        ] {
            assert_eq!(
                Number::parse(input).unwrap().to_string(),
                printed,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_malformed_numbers() {
        for input in ["", "-", "1e", "abc", "1.2.3", "0x10", "1e99999", "NaN"] {
            assert!(Number::parse(input).is_err(), "{input} should be rejected");
        }
    }

    #[test]
    fn knows_which_decimals_are_exact_binary64() {
        assert_eq!(Number::parse("0.5").unwrap().exact_f64(), Some(0.5));
        assert_eq!(Number::parse("0.1").unwrap().exact_f64(), None);
        assert_eq!(
            Number::parse("0.1000000000000000055511151231257827021181583404541015625")
                .unwrap()
                .exact_f64(),
            Some(0.1)
        );
        assert_eq!(
            Number::parse("18446744073709551616").unwrap().exact_f64(),
            Some(18446744073709551616.0)
        );
        assert_eq!(
            Number::parse("18446744073709551615").unwrap().exact_f64(),
            None
        );
        assert_eq!(Number::from(i64::MAX).exact_f64(), None);
        assert_eq!(
            Number::from(i64::MIN).exact_f64(),
            Some(-9223372036854775808.0)
        );
        assert_eq!(Number::parse("5e-324").unwrap().exact_f64(), None);
        let tiny = binary64_to_decimal(f64::from_bits(1));
        assert_eq!(tiny.2, -1074);
        assert_eq!(tiny.1.len(), 751);
    }

    #[test]
    fn equality_is_numeric() {
        assert_eq!(Number::from(3), Number::try_from(3.0).unwrap());
        assert_eq!(
            Number::parse("0.5").unwrap(),
            Number::try_from(0.5).unwrap()
        );
        assert_ne!(
            Number::parse("0.1").unwrap(),
            Number::try_from(0.1).unwrap()
        );
        assert_ne!(Number::from(1), Number::from(2));
    }

    #[test]
    fn integer_accessors_keep_range() {
        assert_eq!(Number::from(i64::MIN).as_i64(), Some(i64::MIN));
        assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
        assert_eq!(Number::parse("1.5").unwrap().as_i64(), None);
        assert_eq!(Number::try_from(1e300).unwrap().as_i64(), None);
        assert_eq!(Number::parse("12e2").unwrap().as_i64(), Some(1200));
        assert_eq!(Number::parse("0.1").unwrap().as_f64(), 0.1);
    }

    #[test]
    fn orders_numerically() {
        let mut values: Vec<Number> = ["3", "-1", "0.5", "-2.25", "100", "0"]
            .iter()
            .map(|s| Number::parse(s).unwrap())
            .collect();
        values.push(Number::infinity());
        values.push(Number::neg_infinity());
        values.sort();
        let printed: Vec<String> = values.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            printed,
            ["-Inf", "-2.25", "-1", "0", "0.5", "3", "100", "+Inf"]
        );
    }

    #[test]
    fn binary_values_print_shortest() {
        assert_eq!(Number::try_from(0.1).unwrap().to_string(), "0.1");
        assert_eq!(
            Number::try_from(2f64.powi(70)).unwrap().to_string(),
            "1180591620717411300000"
        );
        assert_eq!(Number::try_from(-0.0).unwrap().to_string(), "0");
        assert!(Number::from_f64(f64::NAN).is_none());
    }
}
