//! Tiers (客户级别, R-CUS-4): by assets under management, with the thresholds and the VIP (通达)
//! standard the business administrator sets, and the coarse AUM band a summary shows.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, FieldError};

crate::coded! {
    /// Tiers by assets under management (R-CUS-4), lowest first.
    pub enum Tier {
        Ordinary,
        Gold,
        Platinum,
        Diamond,
    }
}

/// Yuan with at most two decimals → fen.
pub fn parse_yuan(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let err = || FieldError::new(field, "err.amount");
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 15 || frac.len() > 2 || !all_digits(whole) || !all_digits(frac) {
        return Err(err());
    }
    let fen = whole.parse::<i64>().map_err(|_| err())? * 100
        + format!("{frac:0<2}").parse::<i64>().map_err(|_| err())?;
    Ok(if negative { -fen } else { fen })
}

/// An amount typed by staff: yuan with at most two decimals, thousands separated or not
/// (`1,000,000.00`), or in 万 (`50万`, `12.5万元`) → fen. Machine input (extracts, the API)
/// goes through [`parse_yuan`], which takes digits only.
pub fn parse_typed_yuan(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let err = || FieldError::new(field, "err.amount_typed");
    let s = s.trim();
    let s = s.strip_suffix('元').unwrap_or(s).trim_end();
    let (s, wan) = match s.strip_suffix('万') {
        Some(rest) => (rest.trim_end(), true),
        None => (s, false),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = match whole.split(',').collect::<Vec<_>>().as_slice() {
        [one] => (*one).to_owned(),
        // Groups of three after a first group of one to three digits.
        [first, rest @ ..] if (1..=3).contains(&first.len()) && rest.iter().all(|g| g.len() == 3) => {
            whole.replace(',', "")
        }
        _ => return Err(err()),
    };
    if !wan {
        return parse_yuan(field, format!("{digits}.{frac}").trim_end_matches('.')).map_err(|_| err());
    }
    // 万 with up to six decimals is still whole fen.
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if digits.is_empty() || digits.len() > 11 || frac.len() > 6 || !all_digits(&digits) || !all_digits(frac) {
        return Err(err());
    }
    let units = |p: &str| p.parse::<i64>().map_err(|_| err());
    Ok(units(&digits)? * 1_000_000 + units(&format!("{frac:0<6}"))?)
}

/// Fen as staff type and read them: `1,000,000.00`.
pub fn typed_yuan(fen: i64) -> String {
    let abs = fen.unsigned_abs();
    format!("{}{}.{:02}", if fen < 0 { "-" } else { "" }, grouped(abs / 100), abs % 100)
}

/// 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Tier thresholds and the VIP (通达) standard, in fen (business parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TierThresholds {
    pub gold: i64,
    pub platinum: i64,
    pub diamond: i64,
    pub vip: i64,
}

impl Default for TierThresholds {
    fn default() -> Self {
        const WAN: i64 = 10_000 * 100;
        Self { gold: 5 * WAN, platinum: 50 * WAN, diamond: 200 * WAN, vip: 200 * WAN }
    }
}

/// The thresholds as the business administrator types them, in yuan.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
#[derive(utoipa::ToSchema)]
pub struct ThresholdsInput {
    pub gold: String,
    pub platinum: String,
    pub diamond: String,
    pub vip: String,
}

impl ThresholdsInput {
    /// The current values as machines write them (`50000.00`).
    pub fn from_thresholds(t: &TierThresholds) -> Self {
        Self::written(t, |fen| format!("{}.{:02}", fen / 100, fen % 100))
    }

    /// The current values as staff read them (`50,000.00`), for the form.
    pub fn for_form(t: &TierThresholds) -> Self {
        Self::written(t, typed_yuan)
    }

    fn written(t: &TierThresholds, yuan: impl Fn(i64) -> String) -> Self {
        Self { gold: yuan(t.gold), platinum: yuan(t.platinum), diamond: yuan(t.diamond), vip: yuan(t.vip) }
    }

    /// Each a positive amount with at most two decimals, and the tiers strictly rising.
    pub fn parse(&self) -> Result<TierThresholds, DomainError> {
        let mut errors = Vec::new();
        let mut amount = |field: &'static str, s: &str| match parse_typed_yuan(field, s) {
            Ok(v) if v > 0 => v,
            Ok(_) => {
                errors.push(FieldError::new(field, "err.threshold_positive"));
                0
            }
            Err(e) => {
                errors.push(e);
                0
            }
        };
        let t = TierThresholds {
            gold: amount("gold", &self.gold),
            platinum: amount("platinum", &self.platinum),
            diamond: amount("diamond", &self.diamond),
            vip: amount("vip", &self.vip),
        };
        if errors.is_empty() {
            if t.platinum <= t.gold {
                errors.push(FieldError::new("platinum", "err.threshold_order"));
            }
            if t.diamond <= t.platinum {
                errors.push(FieldError::new("diamond", "err.threshold_order"));
            }
        }
        if errors.is_empty() { Ok(t) } else { Err(DomainError::Invalid(errors)) }
    }
}

impl TierThresholds {
    pub fn tier_for(&self, aum: i64) -> Tier {
        if aum >= self.diamond {
            Tier::Diamond
        } else if aum >= self.platinum {
            Tier::Platinum
        } else if aum >= self.gold {
            Tier::Gold
        } else {
            Tier::Ordinary
        }
    }

    /// Whether `aum` reaches the VIP (通达) standard: such a customer is a VIP prospect until
    /// it becomes a member.
    pub fn meets_vip_standard(&self, aum: i64) -> bool {
        aum >= self.vip
    }
}

/// A coarse AUM band, which is all a summary shows of a customer's assets (R-CUS-5).
pub fn aum_band(aum: i64) -> &'static str {
    const WAN: i64 = 10_000 * 100;
    match aum {
        a if a < 5 * WAN => "band.lt_5w",
        a if a < 50 * WAN => "band.5w_50w",
        a if a < 200 * WAN => "band.50w_200w",
        a if a < 1000 * WAN => "band.200w_1000w",
        _ => "band.ge_1000w",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_amounts_take_separators_and_wan() {
        let fen = |s: &str| parse_typed_yuan("a", s);
        assert_eq!(fen("1,000,000.00"), Ok(100_000_000));
        assert_eq!(fen(" 500000 "), Ok(50_000_000));
        assert_eq!(fen("50万"), Ok(50_000_000));
        assert_eq!(fen("12.5万元"), Ok(12_500_000));
        assert_eq!(fen("0.000001万"), Ok(1));
        assert_eq!(fen("1,000元"), Ok(100_000));
        for bad in ["", "1,00", "12,3a", ",100", "1,0000", "1.234", "万", "1.0000001万", "1e3"] {
            assert!(fen(bad).is_err(), "{bad}");
        }
        assert_eq!(typed_yuan(123_456_789), "1,234,567.89");
        assert_eq!(typed_yuan(5), "0.05");
        for f in [0, 5, 99_999_999, 100_000_000_000] {
            assert_eq!(fen(&typed_yuan(f)), Ok(f), "{f} reads back");
        }
    }
}
