//! Coded values (代码值): enums whose code is what storage keeps, the API sends and an i18n key
//! ends with. strum derives reading and writing the codes (snake_case of the variant unless a
//! variant says otherwise) and the list of variants in declaration order; [`coded!`] gives
//! every such enum the same inherent `code`, `parse` and `ALL`, so no code list is kept by
//! hand beside its enum.

/// Declares a coded enum: its codes are the snake_case of its variants (unless a variant says
/// `#[strum(serialize = "…")]`), it is (de)serialised and documented by its code, and it gets
/// `code()`, `parse()` and `ALL`. `coded!(@methods T)` adds only the latter to an enum that
/// derives strum's `IntoStaticStr`, `EnumString` and `VariantArray` itself.
#[macro_export]
macro_rules! coded {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        $(#[$attr])*
        $vis enum $name { $($body)* }

        $crate::coded!(@methods $name);
    };
    (@methods $t:ty) => {
        impl $t {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$t] = <$t as strum::VariantArray>::VARIANTS;

            pub fn code(self) -> &'static str {
                self.into()
            }

            pub fn parse(code: &str) -> Option<Self> {
                code.parse().ok()
            }
        }

        /// For columns read with `#[sqlx(try_from = "String")]`.
        impl TryFrom<String> for $t {
            type Error = strum::ParseError;

            fn try_from(code: String) -> Result<Self, Self::Error> {
                code.parse()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::audit::Outcome;
    use crate::customer::{AssignmentKind, CustomerField, IdType, SensitiveField, Tier};
    use crate::identity::Gender;
    use crate::institution::{InstKind, InstStatus};
    use crate::role::{Action, Role, Scope};
    use crate::suspect::SuspectKind;
    use crate::user::UserStatus;

    fn reads_back<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        code: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        let mut seen = std::collections::HashSet::new();
        for v in all {
            assert_eq!(parse(code(*v)), Some(*v));
            assert!(seen.insert(code(*v)), "{v:?}: a code used twice");
        }
        assert_eq!(parse("no such code"), None);
    }

    #[test]
    fn every_coded_value_reads_back_from_its_code() {
        reads_back(Outcome::ALL, Outcome::code, Outcome::parse);
        reads_back(AssignmentKind::ALL, AssignmentKind::code, AssignmentKind::parse);
        reads_back(IdType::ALL, IdType::code, IdType::parse);
        reads_back(SensitiveField::ALL, SensitiveField::code, SensitiveField::parse);
        reads_back(Tier::ALL, Tier::code, Tier::parse);
        reads_back(Gender::ALL, Gender::code, Gender::parse);
        reads_back(InstKind::ALL, InstKind::code, InstKind::parse);
        reads_back(InstStatus::ALL, InstStatus::code, InstStatus::parse);
        reads_back(SuspectKind::ALL, SuspectKind::code, SuspectKind::parse);
        reads_back(UserStatus::ALL, UserStatus::code, UserStatus::parse);
        reads_back(Role::ALL, Role::code, Role::parse);
        reads_back(Action::ALL, Action::code, Action::parse);
        reads_back(Scope::ALL, Scope::code, Scope::parse);
        reads_back(CustomerField::ALL, CustomerField::code, CustomerField::parse);
        // The codes storage and the API already hold.
        assert_eq!(IdType::HkMacauPermit.code(), "hk_macau_permit");
        assert_eq!(SensitiveField::AccountNo.code(), "account_no");
        assert_eq!(InstKind::SelfRun.code(), "self_run");
        assert_eq!(CustomerField::MaritalStatus.code(), "marital_status");
        assert_eq!(Action::CustomerViewDetail.code(), "customer.view_detail");
        assert_eq!(Role::AmSupervisor.code(), "am_supervisor");
    }
}
