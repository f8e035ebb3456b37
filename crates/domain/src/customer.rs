//! Customers (客户, R-CUS-1..7): the sensitivity class of every customer field, declared once
//! (R-PRV-1), tiers (客户分级), and the parsing of customer information entered by staff,
//! which cannot produce an incomplete or invalid record (R-CUS-2, R-CUS-3).

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use crate::error::{DomainError, FieldError};
use crate::identity::{CardNumber, Gender, IdNumber, Mobile, mask_name};
// Tiers live in their own module; their paths under `customer` stay.
pub use crate::tier::*;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct CustomerId(pub i64);

crate::coded! {
    /// How a user is assigned to a customer (R-CUS-1 "assigned managers").
    pub enum AssignmentKind {
        /// The outlet account manager (客户经理).
        Manager,
        /// The VIP specialist (通达专员) of a member, beside the manager.
        Specialist,
        /// Temporary care while the manager is away (托管), until a date.
        Custody,
    }
}

/// JR/T 0171-2020 sensitivity classes of personal financial information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Sensitivity {
    /// Authentication information (passwords, PINs): never stored by PCIS for customers.
    C3,
    /// Information that identifies a person or their assets: identity, contact, account,
    /// asset and transaction information.
    C2,
    /// Internal information: tier, owning institution, managers, tags.
    C1,
}

/// Data level (一般 / 重要 / 核心).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DataLevel {
    General,
    Important,
    Core,
}

/// How a field is shown by default and kept at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protection {
    /// Shown as stored.
    Plain,
    /// Stored in clear (it is searched by prefix), shown masked.
    Masked,
    /// Encrypted at rest (AES-256-GCM), exact search by blind index, shown masked.
    Sealed,
}

crate::coded! {
    /// A customer field whose full value a user may ask to see (R-PRV-2).
    pub enum SensitiveField {
        Name,
        IdNumber,
        Mobile,
        Phone,
        Email,
        Address,
        AccountNo,
    }
}

impl SensitiveField {
    pub fn class(self) -> &'static FieldClass {
        FIELD_CLASSES.iter().find(|c| c.field == self.code()).expect("every sensitive field is classified")
    }

    /// The masked form of a full value (R-PRV-2).
    pub fn mask(self, value: &str) -> String {
        match self {
            Self::Name => mask_name(value),
            Self::IdNumber | Self::AccountNo => keep_ends(value, 6, 4),
            Self::Mobile => keep_ends(value, 3, 4),
            Self::Phone => keep_ends(value, 0, 4),
            Self::Email => mask_email(value),
            Self::Address => mask_address(value),
        }
    }
}

/// The class, level and protection of one customer field.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldClass {
    pub field: &'static str,
    pub class: Sensitivity,
    pub level: DataLevel,
    pub protection: Protection,
}

const fn fc(field: &'static str, class: Sensitivity, level: DataLevel, protection: Protection) -> FieldClass {
    FieldClass { field, class, level, protection }
}

/// Every customer field, once (R-PRV-1). Masking, encryption and reveal follow this table;
/// a test checks that every sealed field is one of the [`SensitiveField`]s.
pub const FIELD_CLASSES: &[FieldClass] = {
    use DataLevel::*;
    use Protection::*;
    use Sensitivity::*;
    &[
        fc("name", C2, Important, Masked),
        fc("gender", C2, General, Plain),
        fc("birth_date", C2, General, Plain),
        fc("nationality", C2, General, Plain),
        fc("occupation", C2, General, Plain),
        fc("education", C2, General, Plain),
        fc("marital_status", C2, General, Plain),
        fc("id_type", C2, General, Plain),
        fc("id_number", C2, Core, Sealed),
        fc("id_issuer", C2, General, Plain),
        fc("id_expiry", C2, General, Plain),
        fc("mobile", C2, Important, Sealed),
        fc("phone", C2, Important, Sealed),
        fc("email", C2, Important, Sealed),
        fc("address", C2, Important, Sealed),
        fc("account_no", C2, Core, Sealed),
        fc("balance", C2, Important, Plain),
        fc("transaction", C2, Important, Plain),
        fc("risk_level", C2, General, Plain),
        fc("consent", C2, General, Plain),
        fc("aum", C2, Important, Plain),
        fc("tier", C1, General, Plain),
        fc("points", C1, General, Plain),
        fc("owner_institution", C1, General, Plain),
        fc("managers", C1, General, Plain),
        fc("tags", C1, General, Plain),
    ]
};

fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

fn mask_email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default())
        }
        None => keep_ends(value, 1, 0),
    }
}

/// An address down to its district (区/县/旗), or its city when it names no district.
fn mask_address(value: &str) -> String {
    let cut = ['区', '县', '旗']
        .iter()
        .filter_map(|m| value.find(*m).map(|i| i + m.len_utf8()))
        .min()
        .or_else(|| value.rfind('市').map(|i| i + '市'.len_utf8()))
        .unwrap_or(0);
    format!("{}****", &value[..cut])
}

crate::coded! {
    /// Identity document types. Only the resident identity card has a checkable number.
    pub enum IdType {
        ResidentId,
        Passport,
        HkMacauPermit,
        TaiwanPermit,
    }
}

/// A document number: a checked resident ID, or another document's number (letters and
/// digits). Printing it shows the masked form only.
#[derive(Clone, PartialEq, Eq)]
pub struct DocNumber(String);

impl DocNumber {
    pub fn parse(id_type: IdType, input: &str) -> Result<DocNumber, FieldError> {
        match id_type {
            IdType::ResidentId => Ok(DocNumber(IdNumber::parse(input)?.expose().to_owned())),
            _ => {
                let s = input.trim().to_uppercase();
                if (5..=20).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()) {
                    Ok(DocNumber(s))
                } else {
                    Err(FieldError::new("id_number", "err.doc_number"))
                }
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DocNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DocNumber({})", SensitiveField::IdNumber.mask(&self.0))
    }
}

/// A value that must never reach a log in full: `Debug` prints the masked form.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    field: SensitiveField,
    value: String,
}

impl Secret {
    pub fn new(field: SensitiveField, value: impl Into<String>) -> Self {
        Self { field, value: value.into() }
    }

    pub fn expose(&self) -> &str {
        &self.value
    }

    pub fn masked(&self) -> String {
        self.field.mask(&self.value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.field.code(), self.masked())
    }
}

crate::coded! {
    /// One item of a customer's information (客户信息项), in the order staff fill them in:
    /// the form, a change proposal and its review list them so.
    pub enum CustomerField {
        Name,
        Gender,
        BirthDate,
        IdType,
        IdNumber,
        IdIssuer,
        IdExpiry,
        Mobile,
        Phone,
        Email,
        Address,
        Nationality,
        Occupation,
        Education,
        MaritalStatus,
    }
}

impl CustomerField {
    /// Sealed at rest and masked when shown, or plain.
    pub fn sensitive(self) -> Option<SensitiveField> {
        SensitiveField::parse(self.code())
    }

    /// The group of a coded value's names (`gender.female`), for the fields that hold codes.
    pub fn coded(self) -> Option<&'static str> {
        match self {
            Self::Gender => Some("gender"),
            Self::IdType => Some("id_type"),
            _ => None,
        }
    }

    /// Key information (R-CUS-3): a new customer needs it.
    pub fn is_key(self) -> bool {
        matches!(
            self,
            Self::Name | Self::Gender | Self::BirthDate | Self::IdNumber | Self::Mobile | Self::Address
        )
    }

    /// How it is typed: an HTML input type, or `select` for a coded value.
    pub fn input_type(self) -> &'static str {
        match self {
            Self::Gender | Self::IdType => "select",
            Self::BirthDate | Self::IdExpiry => "date",
            Self::Mobile | Self::Phone => "tel",
            Self::Email => "email",
            _ => "text",
        }
    }
}

/// Customer information as typed by staff, every field a string (a form or a JSON body).
/// Empty means "not given"; in a modification it means "unchanged".
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
#[derive(utoipa::ToSchema)]
pub struct CustomerInput {
    pub name: String,
    pub gender: String,
    pub birth_date: String,
    pub nationality: String,
    pub occupation: String,
    pub education: String,
    pub marital_status: String,
    pub id_type: String,
    pub id_number: String,
    pub id_issuer: String,
    pub id_expiry: String,
    pub mobile: String,
    pub phone: String,
    pub email: String,
    pub address: String,
}

impl CustomerInput {
    /// Input with each field's value given by `value`.
    pub fn from_fn(mut value: impl FnMut(CustomerField) -> String) -> CustomerInput {
        use CustomerField::*;
        CustomerInput {
            name: value(Name),
            gender: value(Gender),
            birth_date: value(BirthDate),
            nationality: value(Nationality),
            occupation: value(Occupation),
            education: value(Education),
            marital_status: value(MaritalStatus),
            id_type: value(IdType),
            id_number: value(IdNumber),
            id_issuer: value(IdIssuer),
            id_expiry: value(IdExpiry),
            mobile: value(Mobile),
            phone: value(Phone),
            email: value(Email),
            address: value(Address),
        }
    }

    /// What was typed for `field`.
    pub fn get(&self, field: CustomerField) -> &str {
        use CustomerField::*;
        match field {
            Name => &self.name,
            Gender => &self.gender,
            BirthDate => &self.birth_date,
            IdType => &self.id_type,
            IdNumber => &self.id_number,
            IdIssuer => &self.id_issuer,
            IdExpiry => &self.id_expiry,
            Mobile => &self.mobile,
            Phone => &self.phone,
            Email => &self.email,
            Address => &self.address,
            Nationality => &self.nationality,
            Occupation => &self.occupation,
            Education => &self.education,
            MaritalStatus => &self.marital_status,
        }
    }
}

/// Typed input may hold full values: printing it shows nothing personal.
impl std::fmt::Debug for CustomerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerInput(..)")
    }
}

/// Validated customer information: a full record (new customer) or the changed fields of a
/// modification. Sensitive values are [`Secret`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birth_date: Option<Date>,
    pub nationality: Option<String>,
    pub occupation: Option<String>,
    pub education: Option<String>,
    pub marital_status: Option<String>,
    pub id_type: Option<IdType>,
    pub id_number: Option<Secret>,
    pub id_issuer: Option<String>,
    pub id_expiry: Option<Date>,
    pub mobile: Option<Secret>,
    pub phone: Option<Secret>,
    pub email: Option<Secret>,
    pub address: Option<Secret>,
}

/// The key information a stored customer has, for checking a patch against it.
#[derive(Debug, Clone, Default)]
pub struct KeyInfo {
    pub name: bool,
    pub gender: Option<Gender>,
    pub birth_date: Option<Date>,
    pub id_type: Option<IdType>,
    pub id_number: bool,
    pub contact: bool,
    pub address: bool,
}

pub fn parse_date(field: &'static str, s: &str) -> Result<Option<Date>, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Date::parse(s, format_description!("[year]-[month]-[day]"))
        .map(Some)
        .map_err(|_| FieldError::new(field, "err.date_format"))
}

fn text(s: &str, max: usize, field: &'static str, errors: &mut Vec<FieldError>) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        None
    } else if s.chars().count() > max || s.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "err.text_length"));
        None
    } else {
        Some(s.to_owned())
    }
}

impl CustomerInput {
    /// Parses what was typed. `before` is the stored customer for a modification, `None`
    /// for a new customer; either way the result must leave the customer's key information
    /// complete (R-CUS-3) and consistent with the ID number (R-CUS-2).
    pub fn parse(&self, before: Option<&KeyInfo>) -> Result<CustomerPatch, DomainError> {
        let mut errors = Vec::new();
        let mut p = CustomerPatch {
            name: text(&self.name, 40, "name", &mut errors),
            nationality: text(&self.nationality, 40, "nationality", &mut errors),
            occupation: text(&self.occupation, 40, "occupation", &mut errors),
            education: text(&self.education, 20, "education", &mut errors),
            marital_status: text(&self.marital_status, 20, "marital_status", &mut errors),
            id_issuer: text(&self.id_issuer, 60, "id_issuer", &mut errors),
            ..Default::default()
        };
        match self.gender.trim() {
            "" => {}
            g => match Gender::parse(g) {
                Some(g) => p.gender = Some(g),
                None => errors.push(FieldError::new("gender", "err.gender")),
            },
        }
        for (field, input, slot) in [
            ("birth_date", &self.birth_date, &mut p.birth_date),
            ("id_expiry", &self.id_expiry, &mut p.id_expiry),
        ] {
            match parse_date(field, input) {
                Ok(d) => *slot = d,
                Err(e) => errors.push(e),
            }
        }
        match self.id_type.trim() {
            "" => {}
            t => match IdType::parse(t) {
                Some(t) => p.id_type = Some(t),
                None => errors.push(FieldError::new("id_type", "err.id_type")),
            },
        }
        let id_type = p.id_type.or(before.and_then(|b| b.id_type)).unwrap_or(IdType::ResidentId);
        if !self.id_number.trim().is_empty() {
            match DocNumber::parse(id_type, &self.id_number) {
                Ok(n) => p.id_number = Some(Secret::new(SensitiveField::IdNumber, n.expose())),
                Err(e) => errors.push(e),
            }
        }
        if !self.mobile.trim().is_empty() {
            match Mobile::parse(&self.mobile) {
                Ok(m) => p.mobile = Some(Secret::new(SensitiveField::Mobile, m.expose())),
                Err(e) => errors.push(e),
            }
        }
        let phone = self.phone.trim();
        if !phone.is_empty() {
            if (7..=20).contains(&phone.len()) && phone.chars().all(|c| c.is_ascii_digit() || c == '-') {
                p.phone = Some(Secret::new(SensitiveField::Phone, phone));
            } else {
                errors.push(FieldError::new("phone", "err.phone"));
            }
        }
        let email = self.email.trim();
        if !email.is_empty() {
            let ok = email.len() <= 100
                && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                && !email.contains(char::is_whitespace);
            if ok {
                p.email = Some(Secret::new(SensitiveField::Email, email));
            } else {
                errors.push(FieldError::new("email", "err.email"));
            }
        }
        if let Some(a) = text(&self.address, 120, "address", &mut errors) {
            p.address = Some(Secret::new(SensitiveField::Address, a));
        }
        if errors.is_empty() {
            p.check_complete(before, &mut errors);
        }
        if errors.is_empty() { Ok(p) } else { Err(DomainError::Invalid(errors)) }
    }
}

impl CustomerPatch {
    pub fn is_empty(&self) -> bool {
        *self == CustomerPatch::default()
    }

    /// Drops the fields the customer already holds with the same value — `current(field)` is
    /// the stored form, in full for sensitive fields — so that a change lists exactly what
    /// changes.
    pub fn drop_unchanged(&mut self, current: impl Fn(CustomerField) -> String) {
        use CustomerField::*;
        fn same<T>(slot: &mut Option<T>, now: String, shown: impl Fn(&T) -> String) {
            if slot.as_ref().is_some_and(|v| shown(v) == now) {
                *slot = None;
            }
        }
        same(&mut self.gender, current(Gender), |g| g.code().to_owned());
        same(&mut self.birth_date, current(BirthDate), Date::to_string);
        same(&mut self.nationality, current(Nationality), String::clone);
        same(&mut self.occupation, current(Occupation), String::clone);
        same(&mut self.education, current(Education), String::clone);
        same(&mut self.marital_status, current(MaritalStatus), String::clone);
        same(&mut self.id_type, current(IdType), |t| t.code().to_owned());
        same(&mut self.id_issuer, current(IdIssuer), String::clone);
        same(&mut self.id_expiry, current(IdExpiry), Date::to_string);
        same(&mut self.name, current(Name), String::clone);
        for (slot, field) in [
            (&mut self.id_number, IdNumber),
            (&mut self.mobile, Mobile),
            (&mut self.phone, Phone),
            (&mut self.email, Email),
            (&mut self.address, Address),
        ] {
            same(slot, current(field), |s| s.expose().to_owned());
        }
    }

    /// R-CUS-3 key-information completeness and the R-CUS-2 agreement of gender and birth
    /// date with a resident ID number, on the record as it would be after the patch.
    fn check_complete(&self, before: Option<&KeyInfo>, errors: &mut Vec<FieldError>) {
        let b = before.cloned().unwrap_or_default();
        let missing = |present: bool, field: &'static str, errors: &mut Vec<FieldError>| {
            if !present {
                errors.push(FieldError::new(field, "err.required"));
            }
        };
        missing(self.name.is_some() || b.name, "name", errors);
        let gender = self.gender.or(b.gender);
        let birth = self.birth_date.or(b.birth_date);
        missing(gender.is_some(), "gender", errors);
        missing(birth.is_some(), "birth_date", errors);
        missing(self.id_number.is_some() || b.id_number, "id_number", errors);
        if self.mobile.is_none() && self.phone.is_none() && !b.contact {
            errors.push(FieldError::new("mobile", "err.contact_required"));
        }
        missing(self.address.is_some() || b.address, "address", errors);
        let id_type = self.id_type.or(b.id_type).unwrap_or(IdType::ResidentId);
        if id_type == IdType::ResidentId
            && let (Some(n), Some(g), Some(d)) = (&self.id_number, gender, birth)
            && let Ok(id) = IdNumber::parse(n.expose())
            && let Err(e) = id.check_agrees(g, d)
        {
            errors.push(e);
        }
        if self.id_number.is_none() && self.id_type.is_some() && before.is_some() {
            // A new document type needs its number again.
            errors.push(FieldError::new("id_number", "err.required"));
        }
    }

    /// A masked rendering of the changed fields, for the audit record and the reviewer.
    pub fn masked(&self) -> Vec<(CustomerField, String)> {
        self.rendered(Secret::masked)
    }

    /// The changed fields in full, for a reviewer who has asked to see them (an audited reveal).
    pub fn full(&self) -> Vec<(CustomerField, String)> {
        self.rendered(|s| s.expose().to_owned())
    }

    fn rendered(&self, secret: impl Fn(&Secret) -> String) -> Vec<(CustomerField, String)> {
        use CustomerField::*;
        let mut out = Vec::new();
        let mut put = |k: CustomerField, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        put(Name, self.name.as_ref().map(|n| secret(&Secret::new(SensitiveField::Name, n.as_str()))));
        put(Gender, self.gender.map(|g| g.code().to_owned()));
        put(BirthDate, self.birth_date.map(|d| d.to_string()));
        put(Nationality, self.nationality.clone());
        put(Occupation, self.occupation.clone());
        put(Education, self.education.clone());
        put(MaritalStatus, self.marital_status.clone());
        put(IdType, self.id_type.map(|t| t.code().to_owned()));
        put(IdNumber, self.id_number.as_ref().map(&secret));
        put(IdIssuer, self.id_issuer.clone());
        put(IdExpiry, self.id_expiry.map(|d| d.to_string()));
        put(Mobile, self.mobile.as_ref().map(&secret));
        put(Phone, self.phone.as_ref().map(&secret));
        put(Email, self.email.as_ref().map(&secret));
        put(Address, self.address.as_ref().map(&secret));
        out
    }
}

/// Card and account numbers entered by staff: refused only when malformed; a failed Luhn
/// check is returned as a warning (R-CUS-2).
pub fn parse_account_no(input: &str) -> Result<(Secret, bool), FieldError> {
    let card = CardNumber::parse(input)?;
    Ok((Secret::new(SensitiveField::AccountNo, card.expose()), card.luhn_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_fields_name_the_sensitive_ones_and_what_was_typed() {
        let sealed: Vec<_> = CustomerField::ALL.iter().filter_map(|f| f.sensitive()).collect();
        use SensitiveField::*;
        assert_eq!(sealed, [Name, IdNumber, Mobile, Phone, Email, Address]);
        let typed = input();
        assert_eq!(typed.get(CustomerField::IdNumber), "11010519491231002X");
        assert_eq!(typed.get(CustomerField::BirthDate), "1949-12-31");
        assert_eq!(CustomerField::ALL.iter().filter(|f| f.is_key()).count(), 6);
    }

    #[test]
    fn thresholds_are_positive_and_rising() {
        let input = |g: &str, p: &str, d: &str| ThresholdsInput {
            gold: g.into(),
            platinum: p.into(),
            diamond: d.into(),
            vip: "2000000".into(),
        };
        let t = input("50000.01", "500000", "2000000.00").parse().unwrap();
        assert_eq!((t.gold, t.platinum, t.diamond, t.vip), (5_000_001, 50_000_000, 200_000_000, 200_000_000));
        assert_eq!(ThresholdsInput::from_thresholds(&t).gold, "50000.01");
        let fields = |r: Result<TierThresholds, DomainError>| match r {
            Err(DomainError::Invalid(f)) => f.iter().map(|f| (f.field, f.rule)).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields(input("500000", "500000", "2000000").parse()),
            [("platinum", "err.threshold_order")]
        );
        assert_eq!(
            fields(input("0", "x", "2000000").parse()),
            [("gold", "err.threshold_positive"), ("platinum", "err.amount_typed")]
        );
    }

    #[test]
    fn yuan_with_two_decimals_becomes_fen() {
        assert_eq!(parse_yuan("a", "12345.60"), Ok(1_234_560));
        assert_eq!(parse_yuan("a", "-0.05"), Ok(-5));
        assert_eq!(parse_yuan("a", "7"), Ok(700));
        assert_eq!(parse_yuan("a", "7.5"), Ok(750));
        for bad in ["", "1.234", "12,3a", "1,000.00", "--1", ".5", "1e3"] {
            assert!(parse_yuan("a", bad).is_err(), "{bad}");
        }
    }

    fn input() -> CustomerInput {
        CustomerInput {
            name: "王小明".into(),
            gender: "female".into(),
            birth_date: "1949-12-31".into(),
            id_type: "resident_id".into(),
            id_number: "11010519491231002X".into(),
            mobile: "13812345678".into(),
            address: "北京市朝阳区建国路88号".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_sealed_field_is_revealable_and_classified_once() {
        let mut names: Vec<_> = FIELD_CLASSES.iter().map(|c| c.field).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIELD_CLASSES.len());
        for c in FIELD_CLASSES.iter().filter(|c| c.protection == Protection::Sealed) {
            assert!(SensitiveField::parse(c.field).is_some(), "{} is sealed but not revealable", c.field);
        }
        for f in SensitiveField::ALL {
            assert_ne!(f.class().protection, Protection::Plain);
        }
    }

    #[test]
    fn masks_follow_the_rules() {
        assert_eq!(SensitiveField::IdNumber.mask("11010519491231002X"), "110105********002X");
        assert_eq!(SensitiveField::Mobile.mask("13812345678"), "138****5678");
        assert_eq!(SensitiveField::AccountNo.mask("6222021234567890123"), "622202*********0123");
        assert_eq!(SensitiveField::Name.mask("张三丰"), "张**");
        assert_eq!(SensitiveField::Address.mask("江苏省南京市玄武区中山路18号"), "江苏省南京市玄武区****");
        assert_eq!(SensitiveField::Address.mask("上海市浦东新区世纪大道1号"), "上海市浦东新区****");
        assert_eq!(SensitiveField::Email.mask("wang@example.com"), "w***@example.com");
        let s = Secret::new(SensitiveField::Mobile, "13812345678");
        assert_eq!(format!("{s:?}"), "mobile(138****5678)");
    }

    #[test]
    fn a_complete_new_customer_parses() {
        let p = input().parse(None).unwrap();
        assert_eq!(p.id_number.unwrap().expose(), "11010519491231002X");
    }

    #[test]
    fn incomplete_or_inconsistent_input_names_the_rule() {
        let mut i = input();
        i.address.clear();
        i.mobile.clear();
        let DomainError::Invalid(e) = i.parse(None).unwrap_err() else { panic!() };
        assert!(e.contains(&FieldError::new("address", "err.required")));
        assert!(e.contains(&FieldError::new("mobile", "err.contact_required")));

        let mut i = input();
        i.gender = "male".into();
        let DomainError::Invalid(e) = i.parse(None).unwrap_err() else { panic!() };
        assert_eq!(e, vec![FieldError::new("gender", "err.id_gender_mismatch")]);

        let mut i = input();
        i.birth_date = "1949-02-30".into();
        i.mobile = "12812345678".into();
        let DomainError::Invalid(e) = i.parse(None).unwrap_err() else { panic!() };
        assert_eq!(e.iter().map(|e| e.field).collect::<Vec<_>>(), ["birth_date", "mobile"]);
    }

    #[test]
    fn a_modification_is_checked_against_the_stored_record() {
        let before = KeyInfo {
            name: true,
            gender: Some(Gender::Female),
            birth_date: Some(Date::from_calendar_date(1949, time::Month::December, 31).unwrap()),
            id_type: Some(IdType::ResidentId),
            id_number: true,
            contact: true,
            address: true,
        };
        let change = CustomerInput { mobile: "+86 139 1234 5678".into(), ..Default::default() };
        let p = change.parse(Some(&before)).unwrap();
        assert_eq!(p.mobile.unwrap().expose(), "13912345678");
        assert!(CustomerInput::default().parse(Some(&before)).unwrap().is_empty());
    }

    #[test]
    fn tiers_follow_the_thresholds() {
        let t = TierThresholds::default();
        assert_eq!(t.tier_for(t.gold - 1), Tier::Ordinary);
        assert_eq!(t.tier_for(t.gold), Tier::Gold);
        assert_eq!(t.tier_for(t.diamond), Tier::Diamond);
    }
}
