//! Amounts of money as people read them: sums of float prices carry binary noise
//! (0.00030000000000000003), so every amount leaving the tool in JSON is rounded to a billionth
//! of a dollar, far below any price step, with `#[serde(serialize_with = ...)]`.

/// `usd` rounded to 1e-9.
pub fn round_usd(usd: f64) -> f64 {
    if usd.is_finite() {
        (usd * 1e9).round() / 1e9
    } else {
        usd
    }
}

/// Serialise an amount rounded ([`round_usd`]).
pub fn ser_usd<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_usd(*v))
}

/// Serialise an optional amount rounded ([`round_usd`]).
pub fn ser_opt_usd<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_some(&round_usd(*x)),
        None => s.serialize_none(),
    }
}

/// An amount for people: `$12.35`, `$0.0042` (four decimals under a dollar), `$0` for zero.
pub fn display_usd(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_string()
    } else if usd.abs() < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn float_noise_is_rounded_away() {
        assert_eq!(super::round_usd(0.0001 * 3.0), 0.0003);
        assert_eq!(
            super::round_usd(0.00030000000000000003).to_string(),
            "0.0003"
        );
        assert_eq!(super::round_usd(12.5), 12.5);
    }
}
