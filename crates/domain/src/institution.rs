//! Institutions (机构): the five-level tree of R-ORG-1 and its materialized path, which makes
//! "this institution and everything below" (R-ORG-2) one indexed range query.

use crate::error::{DomainError, FieldError};
use serde::Serialize;

/// Database id of an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct InstitutionId(pub i64);

/// Materialized path: the ids from the root down, as `/1/5/23/`. A subtree is every path
/// that starts with the root's path, i.e. the byte range `[path, path with last '/' → '0')`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct InstPath(String);

impl InstPath {
    pub fn root(id: InstitutionId) -> Self {
        Self(format!("/{}/", id.0))
    }

    pub fn child(&self, id: InstitutionId) -> Self {
        Self(format!("{}{}/", self.0, id.0))
    }

    /// Trusts its input: paths are only ever built by `root`/`child` and read back from storage.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Exclusive upper bound of the subtree range (see the type's doc).
    pub fn subtree_upper_bound(&self) -> String {
        let mut s = self.0.clone();
        s.pop();
        s.push('0');
        s
    }

    pub fn contains(&self, other: &InstPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The ids on the path, root first.
    pub fn ids(&self) -> Vec<InstitutionId> {
        self.0.split('/').filter_map(|s| s.parse().ok()).map(InstitutionId).collect()
    }

    pub fn depth(&self) -> usize {
        self.0.matches('/').count() - 1
    }
}

/// The five levels of R-ORG-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Level(u8);

impl Level {
    pub const HEAD_OFFICE: Level = Level(1);
    pub const OUTLET: Level = Level(5);

    pub fn new(n: i64) -> Option<Level> {
        (1..=5).contains(&n).then_some(Level(n as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// i18n key of the level's name (总行, 一级分行, …).
    pub fn label_key(self) -> &'static str {
        ["level.1", "level.2", "level.3", "level.4", "level.5"][(self.0 - 1) as usize]
    }
}

crate::coded! {
    pub enum InstKind {
        /// Levels 1–4.
        Management,
        /// A level-5 outlet run by the bank (自营).
        SelfRun,
        /// A level-5 agency outlet (代理).
        Agency,
    }
}

crate::coded! {
    pub enum InstStatus {
        Active,
        Suspended,
        Closed,
    }
}

/// An institution code: 2–20 ASCII letters or digits, unique in the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstCode(String);

impl InstCode {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if (2..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(FieldError::new("code", "err.inst_code_format"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored institution.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Institution {
    pub id: InstitutionId,
    pub code: String,
    pub name: String,
    pub level: Level,
    pub kind: InstKind,
    pub status: InstStatus,
    pub parent_id: Option<InstitutionId>,
    pub path: InstPath,
    pub effective_from: time::Date,
}

/// Validated fields of a new or edited institution, before its place in the tree is checked.
#[derive(Debug, Clone)]
pub struct InstitutionDraft {
    pub code: InstCode,
    pub name: String,
    pub kind: InstKind,
    pub effective_from: time::Date,
}

/// Raw form or CSV fields, parsed in one place so the UI, the API and the import agree.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct InstitutionInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub effective_from: String,
}

impl InstitutionInput {
    /// `level` is the level the institution will have, which decides the allowed kinds.
    pub fn parse(&self, level: Level) -> Result<InstitutionDraft, DomainError> {
        let mut errors = Vec::new();
        let code = InstCode::parse(&self.code).map_err(|e| errors.push(e)).ok();
        let name = self.name.trim();
        let chars = name.chars().count();
        if chars == 0 {
            errors.push(FieldError::new("name", "err.required"));
        } else if chars > 60 || name.chars().any(char::is_control) {
            errors.push(FieldError::new("name", "err.name_format"));
        }
        let kind = match (InstKind::parse(self.kind.trim()), level == Level::OUTLET) {
            (None, false) if self.kind.trim().is_empty() => Some(InstKind::Management),
            (Some(InstKind::Management), false) => Some(InstKind::Management),
            (Some(k @ (InstKind::SelfRun | InstKind::Agency)), true) => Some(k),
            _ => {
                errors.push(FieldError::new("kind", "err.inst_kind_level"));
                None
            }
        };
        let effective_from = parse_date_or_today(&self.effective_from).map_err(|e| errors.push(e)).ok();
        match (code, kind, effective_from) {
            (Some(code), Some(kind), Some(effective_from)) if errors.is_empty() => {
                Ok(InstitutionDraft { code, name: name.to_owned(), kind, effective_from })
            }
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

fn parse_date_or_today(s: &str) -> Result<time::Date, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(time::OffsetDateTime::now_utc().date());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, format).map_err(|_| FieldError::new("effective_from", "err.date_format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_range_contains_exactly_descendants() {
        let p = InstPath::root(InstitutionId(1)).child(InstitutionId(5));
        assert_eq!(p.as_str(), "/1/5/");
        assert_eq!(p.subtree_upper_bound(), "/1/50");
        let inside = p.child(InstitutionId(23));
        let beside = InstPath::root(InstitutionId(1)).child(InstitutionId(50));
        for (q, expected) in [(&inside, true), (&p, true), (&beside, false)] {
            let in_range = q.as_str() >= p.as_str() && q.as_str() < p.subtree_upper_bound().as_str();
            assert_eq!(in_range, expected, "{q:?}");
            assert_eq!(p.contains(q), expected);
        }
        assert_eq!(inside.depth(), 3);
        assert_eq!(inside.ids(), [InstitutionId(1), InstitutionId(5), InstitutionId(23)]);
    }

    #[test]
    fn kind_must_match_level() {
        let mut input =
            InstitutionInput { code: "b01".into(), name: "北京分行".into(), ..Default::default() };
        let d = input.parse(Level::new(2).unwrap()).unwrap();
        assert_eq!(d.kind, InstKind::Management);
        assert_eq!(d.code.as_str(), "B01");
        input.kind = "agency".into();
        assert!(input.parse(Level::new(2).unwrap()).is_err());
        assert_eq!(input.parse(Level::OUTLET).unwrap().kind, InstKind::Agency);
    }

    #[test]
    fn errors_name_each_field() {
        let input = InstitutionInput {
            code: "!".into(),
            name: " ".into(),
            kind: "x".into(),
            effective_from: "2026-13-01".into(),
        };
        let DomainError::Invalid(errs) = input.parse(Level::OUTLET).unwrap_err() else { panic!() };
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["code", "name", "kind", "effective_from"]);
    }
}
