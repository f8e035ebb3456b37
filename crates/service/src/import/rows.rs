//! Rows of an extract checked and sealed on the reading thread, away from the writer: the
//! same parsing types as the UI, and every sensitive value sealed and blind-indexed before it
//! leaves this module. No database here; what only storage can tell (does this customer
//! number exist, which account is this) travels as a key for the writer to resolve.

use std::collections::HashMap;

use pcis_domain::customer::{CustomerInput, SensitiveField, parse_account_no, parse_date, parse_yuan};
use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::user::UserId;
use pcis_domain::{DomainError, FieldError};
use pcis_store::extract::{AccountRow, CustomerRow, Source, TransactionRow};

use super::format::Columns;
use crate::App;
use crate::bootstrap::SeedInstitution;
use crate::customers::{BIDX_ACCOUNT, columns};

/// Why a row is not loaded: the key it names (masked if sensitive) and the field and rule.
pub(super) type Rejected = (String, FieldError);

/// What the parser keeps in memory: the institutions, staff and products by code
/// (thousands, not millions).
pub(super) struct Lookups {
    pub institutions: HashMap<String, (InstitutionId, InstPath, u8)>,
    pub staff: HashMap<String, UserId>,
    pub products: HashMap<String, (String, String)>,
}

/// A product row checked.
pub(super) struct ProductRow {
    pub code: String,
    pub kind: String,
    pub name: String,
    pub currency: String,
    pub risk_level: Option<String>,
}

/// Parses the rows of one file.
pub(super) struct RowParser {
    pub app: App,
    pub cols: Columns,
    pub lookups: Lookups,
}

impl RowParser {
    /// A row hash under the blind-index key: equal rows, equal hashes; nothing readable.
    fn source(&self, file: &str, r: &csv::StringRecord, row: u64) -> Source {
        let joined: Vec<&str> = r.iter().map(str::trim).collect();
        let hash = self.app.keys.data.blind_index(&format!("import:{file}"), &joined.join("\u{1f}"));
        Source { row: row as i64, hash }
    }

    pub fn institution(&self, r: &csv::StringRecord) -> Result<SeedInstitution, Rejected> {
        let c = &self.cols;
        let code = c.get(r, "code").to_owned();
        let kind = match c.get(r, "kind") {
            "management" => "management",
            "self_run" => "self_run",
            "agency" => "agency",
            _ => return Err((code, FieldError::new("kind", "err.value_unknown"))),
        };
        Ok(SeedInstitution {
            code,
            name: c.get(r, "name").to_owned(),
            parent_code: c.opt(r, "parent_code").map(str::to_owned),
            kind,
        })
    }

    pub fn product(&self, r: &csv::StringRecord) -> Result<ProductRow, Rejected> {
        let c = &self.cols;
        let code_value = c.get(r, "product_code");
        let invalid = |e: FieldError| (code_value.to_owned(), e);
        code("product_code", code_value, 20).map_err(invalid)?;
        let kind = c.get(r, "product_type");
        one_of("product_type", kind, &["demand", "time", "wealth", "fund", "insurance", "bond", "loan"])
            .map_err(invalid)?;
        let name = c.get(r, "product_name");
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid(FieldError::new("product_name", "err.name_format")));
        }
        let currency = c.get(r, "currency");
        currency_code(currency).map_err(invalid)?;
        Ok(ProductRow {
            code: code_value.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            currency: currency.to_owned(),
            risk_level: c.opt(r, "risk_level").map(str::to_owned),
        })
    }

    pub fn customer(&self, r: &csv::StringRecord, row: u64) -> Result<CustomerRow, Rejected> {
        let c = &self.cols;
        let no = c.get(r, "customer_no");
        let invalid = |e: FieldError| (no.to_owned(), e);
        code("customer_no", no, 20).map_err(invalid)?;
        let mut input = CustomerInput::from_fn(|field| c.get(r, field.code()).into());
        // The core system codes gender as GB/T 2261.1 digits.
        input.gender = match c.get(r, "gender") {
            "1" => "male",
            "2" => "female",
            other => other,
        }
        .into();
        let patch = input.parse(None).map_err(|e| match e {
            DomainError::Invalid(f) if !f.is_empty() => invalid(f[0].clone()),
            _ => invalid(FieldError::new("row", "err.invalid_input")),
        })?;
        let settlement = match c.opt(r, "settlement_account") {
            Some(s) => Some(
                parse_account_no(s).map_err(|e| invalid(FieldError::new("settlement_account", e.rule)))?.0,
            ),
            None => None,
        };
        let (owner, owner_path, level) = self
            .lookups
            .institutions
            .get(c.get(r, "institution_code"))
            .ok_or_else(|| invalid(FieldError::new("institution_code", "err.inst_unknown")))?;
        if *level != 5 {
            return Err(invalid(FieldError::new("institution_code", "err.propose_outlet")));
        }
        let risk_level = c.opt(r, "risk_level");
        if let Some(risk) = risk_level {
            one_of("risk_level", risk, &["C1", "C2", "C3", "C4", "C5"]).map_err(invalid)?;
        }
        let assessed = c.opt(r, "risk_assessed_on");
        parse_date("risk_assessed_on", assessed.unwrap_or_default()).map_err(invalid)?;
        let vip_member = match c.get(r, "vip_member") {
            "" | "0" => false,
            "1" => true,
            _ => return Err(invalid(FieldError::new("vip_member", "err.value_unknown"))),
        };
        let points = match c.opt(r, "points") {
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| invalid(FieldError::new("points", "err.number")))?,
            None => 0,
        };
        let mut cols = columns(&self.app, &patch);
        cols.settlement =
            settlement.map(|s| self.app.seal(SensitiveField::AccountNo, s.expose(), Some(BIDX_ACCOUNT)));
        Ok(CustomerRow {
            customer_no: no.to_owned(),
            cols,
            owner: *owner,
            owner_path: owner_path.clone(),
            risk_level: risk_level.map(str::to_owned),
            risk_assessed_on: assessed.map(str::to_owned),
            vip_member,
            points,
            manager: c.opt(r, "manager_staff_no").and_then(|s| self.lookups.staff.get(s).copied()),
            source: self.source("customers", r, row),
        })
    }

    pub fn account(&self, r: &csv::StringRecord, row: u64) -> Result<AccountRow, Rejected> {
        let c = &self.cols;
        let (number, _luhn) = parse_account_no(c.get(r, "account_no"))
            .map_err(|e| (String::new(), FieldError::new("account_no", e.rule)))?;
        let key = number.masked();
        let invalid = |e: FieldError| (key.clone(), e);
        let (kind, name) = self
            .lookups
            .products
            .get(c.get(r, "product_code"))
            .ok_or_else(|| invalid(FieldError::new("product_code", "err.product_unknown")))?;
        let currency = c.get(r, "currency");
        currency_code(currency).map_err(invalid)?;
        let balance = parse_yuan("balance", c.get(r, "balance")).map_err(invalid)?;
        let opened = c.get(r, "opened_on");
        parse_date("opened_on", opened)
            .map_err(invalid)?
            .ok_or_else(|| invalid(FieldError::new("opened_on", "err.required")))?;
        let matures = c.opt(r, "matures_on");
        parse_date("matures_on", matures.unwrap_or_default()).map_err(invalid)?;
        let status = c.get(r, "status");
        one_of("status", status, &["active", "dormant", "closed"]).map_err(invalid)?;
        let (institution, ..) = self
            .lookups
            .institutions
            .get(c.get(r, "institution_code"))
            .ok_or_else(|| invalid(FieldError::new("institution_code", "err.inst_unknown")))?;
        Ok(AccountRow {
            number: self.app.seal(SensitiveField::AccountNo, number.expose(), Some(BIDX_ACCOUNT)),
            customer_no: c.get(r, "customer_no").to_owned(),
            product_type: kind.clone(),
            product_code: c.get(r, "product_code").to_owned(),
            product_name: name.clone(),
            currency: currency.to_owned(),
            balance,
            opened_on: opened.to_owned(),
            matures_on: matures.map(str::to_owned),
            status: status.to_owned(),
            institution: *institution,
            source: self.source("accounts", r, row),
        })
    }

    pub fn transaction(&self, r: &csv::StringRecord) -> Result<TransactionRow, Rejected> {
        let c = &self.cols;
        let txn_no = c.get(r, "txn_no");
        let invalid = |e: FieldError| (txn_no.to_owned(), e);
        code("txn_no", txn_no, 32).map_err(invalid)?;
        let (number, _) = parse_account_no(c.get(r, "account_no"))
            .map_err(|e| invalid(FieldError::new("account_no", e.rule)))?;
        let at = parse_timestamp("posted_at", c.get(r, "posted_at")).map_err(invalid)?;
        let amount = parse_yuan("amount", c.get(r, "amount")).map_err(invalid)?;
        let currency = c.get(r, "currency");
        currency_code(currency).map_err(invalid)?;
        let channel = c.get(r, "channel");
        one_of("channel", channel, &["counter", "atm", "online", "mobile", "pos"]).map_err(invalid)?;
        let summary = c.get(r, "summary");
        if summary.chars().count() > 60 {
            return Err(invalid(FieldError::new("summary", "err.text_length")));
        }
        Ok(TransactionRow {
            txn_no: txn_no.to_owned(),
            account_bidx: self.app.keys.data.blind_index(BIDX_ACCOUNT, number.expose()),
            at,
            amount,
            currency: currency.to_owned(),
            channel: channel.to_owned(),
            summary: summary.to_owned(),
        })
    }
}

/// `YYYY-MM-DD HH:MM:SS`, China time.
fn parse_timestamp(field: &'static str, s: &str) -> Result<time::OffsetDateTime, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, format)
        .map(|t| t.assume_offset(pcis_domain::CST))
        .map_err(|_| FieldError::new(field, "err.timestamp"))
}

fn code(field: &'static str, s: &str, max: usize) -> Result<(), FieldError> {
    if (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(FieldError::new(field, "err.code_format"))
    }
}

fn one_of(field: &'static str, s: &str, allowed: &[&str]) -> Result<(), FieldError> {
    if allowed.contains(&s) { Ok(()) } else { Err(FieldError::new(field, "err.value_unknown")) }
}

fn currency_code(s: &str) -> Result<(), FieldError> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(FieldError::new("currency", "err.currency"))
    }
}
