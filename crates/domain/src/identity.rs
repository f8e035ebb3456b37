//! Identity and contact values (R-CUS-2): the resident identity number of GB 11643-1999, mobile
//! numbers and bank card numbers. Each is a parsing type: an invalid value cannot be built, and
//! the error names the rule. Invariant: `Debug` and `Display` print the masked form (R-PRV-2,
//! R-PRV-8), so a log line, a panic or an error body cannot carry the full value; the full
//! value is reached only through an explicit `expose()`.

use std::fmt;

use time::{Date, Month};

use crate::error::FieldError;

crate::coded! {
    /// 性别, as the identity number encodes it (17th digit odd: male, even: female).
    pub enum Gender {
        Male,
        Female,
    }
}

/// The province-level codes of GB/T 2260 that begin a resident identity number.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54,
    61, 62, 63, 64, 65, 71, 81, 82,
];

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn check_character(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize]
}

/// A resident identity number (居民身份证号码), always held in its 18-character form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Accepts 18 characters (digits, last may be X) or a legacy 15-digit number, which is
    /// converted to 18 (born 19xx, check character added).
    pub fn parse(input: &str) -> Result<IdNumber, FieldError> {
        let err = |rule| FieldError::new("id_number", rule);
        let s: String = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let full = match b.len() {
            15 if b.iter().all(u8::is_ascii_digit) => {
                let mut first17 = Vec::with_capacity(18);
                first17.extend_from_slice(&b[..6]);
                first17.extend_from_slice(b"19");
                first17.extend_from_slice(&b[6..]);
                let check = check_character(&first17);
                first17.push(check);
                String::from_utf8(first17).expect("ASCII digits")
            }
            15 => return Err(err("err.id_digits")),
            18 => {
                if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
                    return Err(err("err.id_digits"));
                }
                s
            }
            _ => return Err(err("err.id_length")),
        };
        let b = full.as_bytes();
        let province = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(err("err.id_region"));
        }
        if birth_date_of(b).is_none() {
            return Err(err("err.id_birth_date"));
        }
        if check_character(&b[..17]) != b[17] {
            return Err(err("err.id_check"));
        }
        Ok(IdNumber(full))
    }

    pub fn birth_date(&self) -> Date {
        birth_date_of(self.0.as_bytes()).expect("checked when parsed")
    }

    pub fn gender(&self) -> Gender {
        if (self.0.as_bytes()[16] - b'0').is_multiple_of(2) { Gender::Female } else { Gender::Male }
    }

    /// The 6-digit administrative division code of where the number was issued.
    pub fn region(&self) -> &str {
        &self.0[..6]
    }

    /// Checks that a gender and birth date entered beside the number agree with it.
    pub fn check_agrees(&self, gender: Gender, birth_date: Date) -> Result<(), FieldError> {
        if gender != self.gender() {
            return Err(FieldError::new("gender", "err.id_gender_mismatch"));
        }
        if birth_date != self.birth_date() {
            return Err(FieldError::new("birth_date", "err.id_birth_mismatch"));
        }
        Ok(())
    }

    /// 110101********1234: the first 6 and the last 4.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// The full number, for encryption, blind indexing or a permitted, audited reveal.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn birth_date_of(b: &[u8]) -> Option<Date> {
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u16>().ok();
    let (year, month, day) = (num(6..10)?, num(10..12)?, num(12..14)?);
    if year < 1800 {
        return None;
    }
    Date::from_calendar_date(i32::from(year), Month::try_from(month as u8).ok()?, day as u8).ok()
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A mainland mobile number: 11 digits starting 1[3-9], optionally written with +86.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(input: &str) -> Result<Mobile, FieldError> {
        let digits: String = input.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits.strip_prefix("+86").or_else(|| digits.strip_prefix("0086")).unwrap_or(&digits);
        let b = digits.as_bytes();
        if b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
        {
            Ok(Mobile(digits.to_owned()))
        } else {
            Err(FieldError::new("mobile", "err.mobile_format"))
        }
    }

    /// 138****5678: the first 3 and the last 4.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mobile({})", self.masked())
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A bank card or account number: 16–19 digits. The Luhn check is a warning, not a refusal,
/// because some genuine UnionPay cards fail it (R-CUS-2).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

impl CardNumber {
    pub fn parse(input: &str) -> Result<CardNumber, FieldError> {
        let digits: String = input.trim().chars().filter(|c| *c != ' ').collect();
        if (16..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CardNumber(digits))
        } else {
            Err(FieldError::new("card_number", "err.card_format"))
        }
    }

    /// Whether the Luhn (mod 10) check holds; a false is shown as a warning.
    pub fn luhn_ok(&self) -> bool {
        luhn_valid(&self.0)
    }

    /// 622202******1234: the first 6 and the last 4.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}{}{}", &self.0[..6], "*".repeat(n - 10), &self.0[n - 4..])
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The Luhn check over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// 张**: the surname's first character, then two stars whatever the name's length.
pub fn mask_name(name: &str) -> String {
    match name.trim().chars().next() {
        Some(first) => format!("{first}**"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_test_vectors() {
        let a = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(a.expose(), "11010519491231002X");
        assert_eq!(a.gender(), Gender::Female);
        assert_eq!(a.birth_date(), time::macros::date!(1949 - 12 - 31));
        assert_eq!(a.region(), "110105");
        let b = IdNumber::parse("440524188001010014").unwrap();
        assert_eq!(b.gender(), Gender::Male);
        assert_eq!(b.birth_date(), time::macros::date!(1880 - 01 - 01));
    }

    #[test]
    fn fifteen_digits_become_eighteen() {
        let id = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
    }

    #[test]
    fn each_rule_is_named() {
        let rule = |s| IdNumber::parse(s).unwrap_err().rule;
        assert_eq!(rule("1101051949123100"), "err.id_length");
        assert_eq!(rule("11010519491231002Y"), "err.id_digits");
        assert_eq!(rule("99010519491231002X"), "err.id_region");
        assert_eq!(rule("11010519491331002X"), "err.id_birth_date");
        assert_eq!(rule("110105194902300020"), "err.id_birth_date");
        assert_eq!(rule("110105194912310021"), "err.id_check");
    }

    #[test]
    fn gender_and_birth_date_must_agree() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert!(id.check_agrees(Gender::Female, time::macros::date!(1949 - 12 - 31)).is_ok());
        assert_eq!(
            id.check_agrees(Gender::Male, time::macros::date!(1949 - 12 - 31)).unwrap_err().field,
            "gender"
        );
        assert_eq!(
            id.check_agrees(Gender::Female, time::macros::date!(1950 - 01 - 01)).unwrap_err().field,
            "birth_date"
        );
    }

    #[test]
    fn debug_and_display_never_show_the_full_value() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        let m = Mobile::parse("+86 138-0013-8000").unwrap();
        let c = CardNumber::parse("6222 0212 3456 7890 123").unwrap();
        for text in [format!("{id} {id:?}"), format!("{m} {m:?}"), format!("{c} {c:?}")] {
            assert!(
                !text.contains("19491231002X") && !text.contains("00138000") && !text.contains("234567890"),
                "{text}"
            );
        }
        assert_eq!(id.to_string(), "110105********002X");
        assert_eq!(m.to_string(), "138****8000");
        assert_eq!(c.to_string(), "622202*********0123");
        assert_eq!(mask_name("张三丰"), "张**");
    }

    #[test]
    fn mobiles() {
        assert_eq!(Mobile::parse("13800138000").unwrap().expose(), "13800138000");
        for bad in ["12800138000", "1380013800", "23800138000", "1380013800a", ""] {
            assert_eq!(Mobile::parse(bad).unwrap_err().rule, "err.mobile_format", "{bad}");
        }
    }

    #[test]
    fn luhn_is_a_warning_only() {
        assert!(CardNumber::parse("4111111111111111").unwrap().luhn_ok());
        let failing = CardNumber::parse("4111111111111112").unwrap();
        assert!(!failing.luhn_ok(), "parsed all the same");
        assert_eq!(CardNumber::parse("411111111111").unwrap_err().rule, "err.card_format");
    }

    /// A valid identity number from its parts.
    fn build(province: u8, rest_region: u16, date: Date, seq: u16) -> String {
        let first17 = format!(
            "{province:02}{rest_region:04}{:04}{:02}{:02}{seq:03}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let check = check_character(first17.as_bytes()) as char;
        format!("{first17}{check}")
    }

    fn valid_id() -> impl Strategy<Value = String> {
        (proptest::sample::select(PROVINCES.to_vec()), 0u16..10_000, 0i32..(365 * 120), 0u16..1000).prop_map(
            |(p, r, days, seq)| {
                let date = time::macros::date!(1900 - 01 - 01) + time::Duration::days(i64::from(days));
                build(p, r, date, seq)
            },
        )
    }

    proptest! {
        #[test]
        fn every_generated_valid_number_parses(id in valid_id()) {
            let parsed = IdNumber::parse(&id).unwrap();
            prop_assert_eq!(parsed.expose(), id.as_str());
        }

        #[test]
        fn every_corruption_of_the_check_character_fails(id in valid_id()) {
            for c in "0123456789X".chars() {
                if id.ends_with(c) {
                    continue;
                }
                let corrupted = format!("{}{c}", &id[..17]);
                prop_assert_eq!(IdNumber::parse(&corrupted).unwrap_err().rule, "err.id_check");
            }
        }

        #[test]
        fn valid_luhn_numbers_pass(body in "[0-9]{15,18}") {
            // Append the digit that makes the Luhn sum a multiple of 10.
            let check = (0..10).find(|d| luhn_valid(&format!("{body}{d}"))).unwrap();
            let card = CardNumber::parse(&format!("{body}{check}")).unwrap();
            prop_assert!(card.luhn_ok());
        }
    }
}
