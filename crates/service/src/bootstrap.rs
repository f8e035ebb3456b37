//! Setting up a deployment before any administrator exists: the institution tree from seed
//! data and accounts with one-time passwords. Recorded in the audit trail as `system`.

use pcis_domain::DomainResult;
use pcis_domain::audit::AuditWho;
use pcis_domain::institution::{InstitutionInput, Level};
use pcis_domain::password;
use pcis_domain::user::{UserId, UserInput};
use pcis_store::{institutions, users};
use serde_json::json;

use crate::audit::with_detail;
use crate::{App, DbExt, entry};

/// One institution of seed data; parents come before children.
pub struct SeedInstitution {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub kind: &'static str,
}

fn system() -> AuditWho {
    AuditWho { username: "system".into(), ..AuditWho::default() }
}

impl App {
    /// Inserts the institutions whose codes do not exist yet; returns how many were added.
    pub async fn seed_institutions(&self, seed: &[SeedInstitution]) -> DomainResult<u64> {
        let mut tx = self.db.begin().await.db()?;
        let mut added = 0;
        for s in seed {
            if institutions::get_by_code(&mut tx, &s.code).await.db()?.is_some() {
                continue;
            }
            let parent =
                match &s.parent_code {
                    Some(code) => Some(institutions::get_by_code(&mut tx, code).await.db()?.ok_or(
                        pcis_domain::DomainError::invalid("parent_code", "err.inst_parent_unknown"),
                    )?),
                    None => None,
                };
            let level = parent
                .as_ref()
                .map_or(Some(Level::HEAD_OFFICE), |p| Level::new(i64::from(p.level.get()) + 1));
            let level =
                level.ok_or(pcis_domain::DomainError::invalid("parent_code", "err.inst_parent_outlet"))?;
            let input = InstitutionInput {
                code: s.code.clone(),
                name: s.name.clone(),
                kind: s.kind.into(),
                effective_from: String::new(),
            };
            let draft = input.parse(level)?;
            institutions::insert(&mut tx, &draft, level, parent.as_ref(), self.clock.now()).await.db()?;
            added += 1;
        }
        let detail = json!({ "added": added });
        self.record(&mut tx, with_detail(entry(system(), "institution.seed", "institution", ""), detail))
            .await?;
        tx.commit().await.db()?;
        Ok(added)
    }

    /// Creates the account if it does not exist, and in any case gives it a fresh one-time
    /// password (to be changed at first login), unlocked and active. Returns the password.
    pub async fn provision_user(&self, input: &UserInput) -> DomainResult<String> {
        let draft = input.parse()?;
        let otp = password::generate_one_time();
        let hash = crate::hashing::hash(&otp).await;
        let mut tx = self.db.begin().await.db()?;
        let inst = institutions::get_by_code(&mut tx, &draft.institution_code)
            .await
            .db()?
            .ok_or(pcis_domain::DomainError::invalid("institution_code", "err.inst_unknown"))?;
        let now = self.clock.now();
        let existing = users::login_info_by_name(&mut tx, draft.username.as_str()).await.db()?;
        let id = match existing {
            Some(info) => {
                let id = UserId(info.id);
                users::set_password(&mut tx, id, &hash, true, now).await.db()?;
                users::set_status(&mut tx, id, pcis_domain::user::UserStatus::Active, now).await.db()?;
                id
            }
            None => users::insert(&mut tx, &draft, inst.id, &hash, now).await.db()?,
        };
        let e = entry(system(), "user.provision", "user", id.0);
        self.record(
            &mut tx,
            with_detail(e, json!({ "username": draft.username.as_str(), "roles": draft.roles })),
        )
        .await?;
        tx.commit().await.db()?;
        Ok(otp)
    }
}
