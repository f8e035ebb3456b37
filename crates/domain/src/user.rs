//! Users (用户): one person, one account (R-USR-1). Accounts are frozen (冻结) or
//! deregistered (注销), never deleted, so history stays attributable.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, FieldError};
use crate::institution::InstitutionId;
use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct UserId(pub i64);

crate::coded! {
    pub enum UserStatus {
        Active,
        Frozen,
        Deregistered,
    }
}

/// A login name: 3–32 lowercase ASCII letters, digits, `.`, `_` or `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (3..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok { Ok(Self(s)) } else { Err(FieldError::new("username", "err.username_format")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored user, as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub staff_no: String,
    pub institution_id: InstitutionId,
    pub institution_name: String,
    pub status: UserStatus,
    pub roles: Vec<Role>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<time::OffsetDateTime>,
    pub must_change_password: bool,
}

/// Raw fields of a new user.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UserInput {
    pub username: String,
    pub display_name: String,
    pub staff_no: String,
    pub institution_code: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UserDraft {
    pub username: Username,
    pub display_name: String,
    pub staff_no: String,
    pub institution_code: String,
    pub roles: Vec<Role>,
}

impl UserInput {
    pub fn parse(&self) -> Result<UserDraft, DomainError> {
        let mut errors = Vec::new();
        let username = Username::parse(&self.username).map_err(|e| errors.push(e)).ok();
        let display_name = self.display_name.trim();
        if display_name.is_empty() {
            errors.push(FieldError::new("display_name", "err.required"));
        } else if display_name.chars().count() > 30 || display_name.chars().any(char::is_control) {
            errors.push(FieldError::new("display_name", "err.name_format"));
        }
        let staff_no = self.staff_no.trim();
        if !(1..=16).contains(&staff_no.len()) || !staff_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
            errors.push(FieldError::new("staff_no", "err.staff_no_format"));
        }
        if self.institution_code.trim().is_empty() {
            errors.push(FieldError::new("institution_code", "err.required"));
        }
        let roles = parse_roles(&self.roles).map_err(|e| errors.push(e)).ok();
        match (username, roles) {
            (Some(username), Some(roles)) if errors.is_empty() => Ok(UserDraft {
                username,
                display_name: display_name.to_owned(),
                staff_no: staff_no.to_ascii_uppercase(),
                institution_code: self.institution_code.trim().to_ascii_uppercase(),
                roles,
            }),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// At least one role, each known; duplicates collapse.
pub fn parse_roles(codes: &[String]) -> Result<Vec<Role>, FieldError> {
    let mut roles = Vec::new();
    for c in codes {
        let role = Role::parse(c.trim()).ok_or(FieldError::new("roles", "err.role_unknown"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(FieldError::new("roles", "err.role_required"));
    }
    roles.sort();
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert_eq!(Username::parse(" Zhang.San ").unwrap().as_str(), "zhang.san");
        for bad in ["ab", "1abc", "张三", "a b c", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_must_be_known_and_present() {
        assert_eq!(parse_roles(&[]).unwrap_err().rule, "err.role_required");
        assert_eq!(parse_roles(&["root".into()]).unwrap_err().rule, "err.role_unknown");
        let r = parse_roles(&["biz_admin".into(), "biz_admin".into()]).unwrap();
        assert_eq!(r, vec![Role::BizAdmin]);
    }
}
