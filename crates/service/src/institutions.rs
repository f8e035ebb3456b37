//! Institution administration (R-ORG-1..3): the tree, create, edit, suspend, close, CSV import.
//! Invariant: nothing outside the actor's subtree is read or changed; a failed import writes
//! nothing.

use std::collections::HashMap;

use pcis_domain::audit_action::AuditAction;
use pcis_domain::institution::{InstStatus, Institution, InstitutionId, InstitutionInput, Level};
use pcis_domain::policy::Actor;
use pcis_domain::role::Action;
use pcis_domain::{DomainError, DomainResult, FieldError, RowError};
use pcis_store::{Tx, institutions as store};
use serde_json::json;

use crate::{App, DbExt, RequestMeta};

impl App {
    /// The institutions the actor may see for `action`, in tree order.
    pub async fn institution_tree(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> DomainResult<Vec<Institution>> {
        let mut uc = self.read_case(actor, meta, AuditAction::InstitutionList, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::InstitutionView)).await?;
        let list = store::list(uc.tx(), &scope).await.db()?;
        uc.finish().await?;
        Ok(list)
    }

    /// One institution, if the actor may view it.
    pub async fn institution(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: InstitutionId,
    ) -> DomainResult<Institution> {
        let mut uc = self.read_case(actor, meta, AuditAction::InstitutionView, id.0).await?;
        let inst = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        uc.check(self.policy.authorize(actor, Action::InstitutionView, &inst.path)).await?;
        uc.finish().await?;
        Ok(inst)
    }

    /// Creates an institution under `parent_code` (empty: the head office of an empty tree).
    pub async fn create_institution(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        parent_code: &str,
        input: &InstitutionInput,
    ) -> DomainResult<Institution> {
        let mut uc = self.write_case(actor, meta, AuditAction::InstitutionCreate, input.code.trim()).await?;
        let parent = self.parent_for_new(uc.tx(), parent_code, "parent_code").await?;
        uc.check(match &parent {
            Some(p) => self.policy.authorize(actor, Action::InstitutionManage, &p.path),
            // Only a deployment-wide grant could create a second root; none exists.
            None => Err(DomainError::Denied { reason: "deny.out_of_scope" }),
        })
        .await?;
        let inst = self.insert_child(uc.tx(), parent.as_ref(), input).await?;
        uc.detail(
            json!({ "code": inst.code, "name": inst.name, "level": inst.level.get(), "parent": parent_code }),
        );
        uc.finish().await?;
        Ok(inst)
    }

    /// The parent a new child would hang under: it must exist, be active and not an outlet.
    async fn parent_for_new(
        &self,
        tx: &mut Tx,
        code: &str,
        field: &'static str,
    ) -> DomainResult<Option<Institution>> {
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Ok(None);
        }
        let parent = store::get_by_code(tx, &code)
            .await
            .db()?
            .ok_or(DomainError::invalid(field, "err.inst_parent_unknown"))?;
        if parent.level == Level::OUTLET {
            return Err(DomainError::invalid(field, "err.inst_parent_outlet"));
        }
        if parent.status != InstStatus::Active {
            return Err(DomainError::invalid(field, "err.inst_parent_inactive"));
        }
        Ok(Some(parent))
    }

    async fn insert_child(
        &self,
        tx: &mut Tx,
        parent: Option<&Institution>,
        input: &InstitutionInput,
    ) -> DomainResult<Institution> {
        let level = parent.map_or(Level::HEAD_OFFICE, |p| {
            Level::new(i64::from(p.level.get()) + 1).expect("parent is not an outlet")
        });
        let draft = input.parse(level)?;
        if store::get_by_code(tx, draft.code.as_str()).await.db()?.is_some() {
            return Err(DomainError::invalid("code", "err.inst_code_taken"));
        }
        store::insert(tx, &draft, level, parent, self.clock.now()).await.db()
    }

    pub async fn update_institution(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: InstitutionId,
        input: &InstitutionInput,
    ) -> DomainResult<Institution> {
        let mut uc = self.write_case(actor, meta, AuditAction::InstitutionUpdate, id.0).await?;
        let before = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        uc.check(self.policy.authorize(actor, Action::InstitutionManage, &before.path)).await?;
        let draft = input.parse(before.level)?;
        if let Some(other) = store::get_by_code(uc.tx(), draft.code.as_str()).await.db()?
            && other.id != id
        {
            return Err(DomainError::invalid("code", "err.inst_code_taken"));
        }
        store::update(uc.tx(), id, &draft, self.clock.now()).await.db()?;
        let after = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        uc.detail(json!({
            "before": { "code": before.code, "name": before.name, "kind": before.kind, "effective_from": before.effective_from.to_string() },
            "after": { "code": after.code, "name": after.name, "kind": after.kind, "effective_from": after.effective_from.to_string() },
        }));
        uc.finish().await?;
        Ok(after)
    }

    /// Suspends, reactivates or closes. Closing refuses while open children or users remain
    /// (R-ORG-3); customers join that rule when they exist.
    pub async fn set_institution_status(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        id: InstitutionId,
        status: InstStatus,
        reason: &str,
    ) -> DomainResult<()> {
        let action = match status {
            InstStatus::Active => AuditAction::InstitutionReactivate,
            InstStatus::Suspended => AuditAction::InstitutionSuspend,
            InstStatus::Closed => AuditAction::InstitutionClose,
        };
        let mut uc = self.write_case(actor, meta, action, id.0).await?;
        let inst = store::get(uc.tx(), id).await.db()?.ok_or(DomainError::NotFound)?;
        uc.check(self.policy.authorize(actor, Action::InstitutionManage, &inst.path)).await?;
        if reason.trim().is_empty() {
            return Err(DomainError::invalid("reason", "err.required"));
        }
        uc.reason(reason);
        if inst.status == InstStatus::Closed {
            return Err(DomainError::Conflict("err.inst_closed_final"));
        }
        if inst.id == actor.institution_id {
            return uc.check(Err(DomainError::Denied { reason: "deny.self_action" })).await;
        }
        if status == InstStatus::Closed {
            if store::count_open_children(uc.tx(), id).await.db()? > 0 {
                return Err(DomainError::Conflict("err.inst_has_children"));
            }
            if store::count_users(uc.tx(), id).await.db()? > 0 {
                return Err(DomainError::Conflict("err.inst_has_users"));
            }
        }
        store::set_status(uc.tx(), id, status, self.clock.now()).await.db()?;
        uc.detail(json!({ "before": inst.status, "after": status }));
        uc.finish().await
    }

    /// Imports institutions from CSV (columns `code,name,level,parent_code,kind,effective_from`),
    /// UTF-8 or GB18030. All rows are checked first; one bad row and nothing is written.
    /// Existing codes are updated in place, so the same file can be loaded twice.
    pub async fn import_institutions(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        bytes: &[u8],
    ) -> DomainResult<ImportSummary> {
        let mut uc = self.write_case(actor, meta, AuditAction::InstitutionImport, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::InstitutionManage)).await?;
        let tx = uc.tx();
        let rows = parse_csv(&decode_text(bytes)?)?;
        let mut errors = Vec::new();
        let mut summary = ImportSummary::default();
        // Parents first: a row's parent is either stored already or an earlier level in the file.
        let mut ordered: Vec<&CsvRow> = rows.iter().collect();
        ordered.sort_by_key(|r| (r.level, r.line));
        let mut created: HashMap<String, Institution> = HashMap::new();
        for row in ordered {
            let mut row_err = |field: &'static str, rule: &'static str| {
                errors.push(RowError { row: row.line, field, rule });
            };
            let Some(level) = Level::new(row.level) else {
                row_err("level", "err.inst_level_range");
                continue;
            };
            let parent = if row.parent_code.is_empty() {
                None
            } else if let Some(p) = created.get(&row.parent_code) {
                Some(p.clone())
            } else {
                store::get_by_code(tx, &row.parent_code).await.db()?
            };
            let parent_level = parent.as_ref().map_or(0, |p| p.level.get());
            if level != Level::HEAD_OFFICE && parent.is_none() {
                row_err("parent_code", "err.inst_parent_unknown");
                continue;
            }
            if i64::from(parent_level) + 1 != i64::from(level.get()) {
                row_err("level", "err.inst_level_parent");
                continue;
            }
            let Some(parent) = parent else {
                // A root row: only acceptable if it matches the existing root exactly.
                match store::get_by_code(tx, &row.input.code.trim().to_ascii_uppercase()).await.db()? {
                    Some(root) if root.level == Level::HEAD_OFFICE => {
                        summary.unchanged += 1;
                        created.insert(root.code.clone(), root);
                    }
                    _ => row_err("parent_code", "err.inst_root_exists"),
                }
                continue;
            };
            if !scope.admits(&parent.path) {
                row_err("parent_code", "deny.out_of_scope");
                continue;
            }
            let draft = match row.input.parse(level) {
                Ok(d) => d,
                Err(DomainError::Invalid(fs)) => {
                    errors.extend(fs.into_iter().map(|f| RowError {
                        row: row.line,
                        field: f.field,
                        rule: f.rule,
                    }));
                    continue;
                }
                Err(other) => return Err(other),
            };
            match store::get_by_code(tx, draft.code.as_str()).await.db()? {
                Some(existing) if existing.parent_id == Some(parent.id) => {
                    if existing.name == draft.name
                        && existing.kind == draft.kind
                        && existing.effective_from == draft.effective_from
                    {
                        summary.unchanged += 1;
                    } else {
                        store::update(tx, existing.id, &draft, self.clock.now()).await.db()?;
                        summary.updated += 1;
                    }
                    created.insert(existing.code.clone(), existing);
                }
                Some(_) => row_err("code", "err.inst_code_taken"),
                None => {
                    if parent.status != InstStatus::Active {
                        row_err("parent_code", "err.inst_parent_inactive");
                        continue;
                    }
                    let inst =
                        store::insert(tx, &draft, level, Some(&parent), self.clock.now()).await.db()?;
                    summary.inserted += 1;
                    created.insert(inst.code.clone(), inst);
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.row);
            return Err(DomainError::InvalidRows(errors));
        }
        summary.read = rows.len() as u64;
        uc.detail(json!({ "read": summary.read, "inserted": summary.inserted, "updated": summary.updated, "unchanged": summary.unchanged }));
        uc.finish().await?;
        Ok(summary)
    }
}

#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

struct CsvRow {
    line: u64,
    level: i64,
    parent_code: String,
    input: InstitutionInput,
}

const COLUMNS: [&str; 6] = ["code", "name", "level", "parent_code", "kind", "effective_from"];

/// Uploaded text: UTF-8 (with or without BOM) when it is valid UTF-8, else GB18030, the two
/// encodings Chinese banks' files come in. Bytes that are neither are refused with their line,
/// never replaced by U+FFFD and stored as a name.
fn decode_text(bytes: &[u8]) -> DomainResult<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        let at = text.find('\u{FFFD}').unwrap_or(0);
        let row = text[..at].matches('\n').count() as u64 + 1;
        return Err(DomainError::InvalidRows(vec![RowError {
            row,
            field: "file",
            rule: "err.csv_encoding",
        }]));
    }
    Ok(text.into_owned())
}

fn parse_csv(text: &str) -> DomainResult<Vec<CsvRow>> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|_| DomainError::invalid("file", "err.csv_header"))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if header != COLUMNS {
        return Err(DomainError::Invalid(vec![FieldError::new("file", "err.csv_header")]));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let Ok(r) = record else {
            errors.push(RowError { row: line, field: "file", rule: "err.csv_row_shape" });
            continue;
        };
        let Ok(level) = r[2].trim().parse::<i64>() else {
            errors.push(RowError { row: line, field: "level", rule: "err.inst_level_range" });
            continue;
        };
        rows.push(CsvRow {
            line,
            level,
            parent_code: r[3].trim().to_ascii_uppercase(),
            input: InstitutionInput {
                code: r[0].to_owned(),
                name: r[1].to_owned(),
                kind: r[4].trim().to_owned(),
                effective_from: r[5].to_owned(),
            },
        });
    }
    if rows.len() > 100_000 {
        return Err(DomainError::invalid("file", "err.csv_too_large"));
    }
    if errors.is_empty() { Ok(rows) } else { Err(DomainError::InvalidRows(errors)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_and_utf8_decode_alike() {
        let text = "code,name\nB1,北京分行\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        assert_eq!(decode_text(&gb).unwrap(), text);
        assert_eq!(decode_text(format!("\u{feff}{text}").as_bytes()).unwrap(), text);
    }

    #[test]
    fn undecodable_bytes_are_refused_with_their_row() {
        let (mut gb, _, _) = encoding_rs::GB18030.encode("code,name\nB1,北京分行\nB2,");
        let mut bytes = gb.to_mut().clone();
        // 0x81 0x20 starts a two-byte GB18030 sequence with an invalid trail byte.
        bytes.extend_from_slice(b"\x81\x20\n");
        let Err(DomainError::InvalidRows(rows)) = decode_text(&bytes) else { panic!("accepted") };
        assert_eq!((rows[0].row, rows[0].rule), (3, "err.csv_encoding"));
    }

    #[test]
    fn header_must_match() {
        assert!(matches!(parse_csv("a,b\n1,2\n"), Err(DomainError::Invalid(_))));
        let rows =
            parse_csv("code,name,level,parent_code,kind,effective_from\nB1,北京分行,2,HO,,\n").unwrap();
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].parent_code, "HO");
    }

    #[test]
    fn bad_level_names_row() {
        let Err(DomainError::InvalidRows(e)) =
            parse_csv("code,name,level,parent_code,kind,effective_from\nB1,x,two,HO,,\n")
        else {
            panic!()
        };
        assert_eq!(e, vec![RowError { row: 2, field: "level", rule: "err.inst_level_range" }]);
    }
}
