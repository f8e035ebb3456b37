//! The security auditor's audit-log search (审计日志).

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

struct AuditRow {
    seq: i64,
    at: String,
    username: String,
    action: String,
    action_label: String,
    target: String,
    outcome: String,
    outcome_class: &'static str,
    reason: String,
    ip: String,
    /// The detail as labelled fields: (label, value).
    detail: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    rows: Vec<AuditRow>,
    outcomes: Vec<(&'static str, String)>,
    /// Known audited actions for the filter's suggestions: (code, label).
    actions: Vec<(String, String)>,
    f_username: String,
    f_action: String,
    f_outcome: String,
    f_customer: String,
    f_from: String,
    f_to: String,
    problem: String,
    heads: Vec<Heading>,
    pager: Pager,
}

/// The name of an audited action in the user's language; the code itself if it has none.
fn action_label(lang: Lang, action: &str) -> String {
    let key = format!("audit_action.{action}");
    let text = t(lang, &key);
    if text == key { action.to_owned() } else { text }
}

/// Reasons are i18n keys (`err.*`, `deny.*`), system codes (`audit_reason.*`) or free text
/// typed by staff, which is shown as written.
fn reason_text(lang: Lang, reason: &str) -> String {
    let key = if reason.starts_with("err.") || reason.starts_with("deny.") {
        reason.to_owned()
    } else {
        format!("audit_reason.{reason}")
    };
    let text = t(lang, &key);
    if text == key { reason.to_owned() } else { text }
}

/// The name of a detail key: its own text (`audit_detail.*`), else a customer field's name,
/// else the key.
fn key_label(lang: Lang, key: &str) -> String {
    let own = label(lang, "audit_detail", key);
    if own != key { own } else { label(lang, "customer", key) }
}

/// A record's detail as labelled fields in the UI language, so an auditor reads
/// 字段：手机号码 · 遮蔽值：138****5678 rather than JSON. Anything that is not a JSON object
/// is shown as stored.
fn detail_fields(lang: Lang, detail: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some("") && v.as_str() != Some("{}"))
            .map(|(k, v)| (key_label(lang, k), value_text(lang, k, v)))
            .collect(),
        _ if detail.is_empty() => Vec::new(),
        _ => vec![(String::new(), detail.to_owned())],
    }
}

fn value_text(lang: Lang, key: &str, v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "—".to_owned(),
        Value::Bool(b) => t(lang, if *b { "app.yes" } else { "app.no" }),
        Value::Number(n) => n.to_string(),
        Value::String(s) if matches!(key, "field" | "fields") => label(lang, "customer", s),
        Value::String(s) if key == "kind" => label(lang, "proposal", s),
        // Masked before/after values are stored as a JSON text.
        Value::String(s) if s.starts_with('{') || s.starts_with('[') => match serde_json::from_str(s) {
            Ok(inner) => value_text(lang, key, &inner),
            Err(_) => s.clone(),
        },
        Value::String(s) => customer_value(lang, key, s),
        Value::Array(items) => {
            let item = |i: &Value| match i.as_array().map(Vec::as_slice) {
                // [field, value] pairs, as changes are recorded.
                Some([Value::String(k), v]) => format!("{}: {}", key_label(lang, k), value_text(lang, k, v)),
                _ => value_text(lang, key, i),
            };
            items.iter().map(item).collect::<Vec<_>>().join("; ")
        }
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{}: {}", key_label(lang, k), value_text(lang, k, v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Denied => "danger",
        Outcome::Failed => "warning",
    }
}

async fn audit(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<AuditQuery>) -> PageResult {
    let listing = q.list.listing(AuditSort::USUAL);
    let (result, problem) = match q.filter() {
        Ok(filter) => {
            (Some(st.app.search_audit(&auth.session.actor, &meta, &filter, &listing).await?), String::new())
        }
        Err(DomainError::Invalid(f)) => (None, format!("{}: {}", f[0].field, t(lang, f[0].rule))),
        Err(e) => return Err(PageError::from(e)),
    };
    // An invalid filter never reached the service; the page itself still needs the permission.
    if result.is_none() {
        st.app.require(&auth.session.actor, &meta, AuditAction::AuditSearch).await?;
    }
    let cst = pcis_domain::CST;
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let names = match &result {
        Some(r) => st.app.audit_target_names(&r.items).await?,
        None => Default::default(),
    };
    let target = |kind: &str, id: &str| -> String {
        let what = label(lang, "audit_target", kind);
        match names.get(&(kind.to_owned(), id.to_owned())) {
            Some(name) => format!("{what} {name}"),
            None if id.is_empty() => what,
            None => format!("{what} #{id}"),
        }
    };
    let (rows, total) = match result {
        Some(r) => (
            r.items
                .iter()
                .map(|a| AuditRow {
                    seq: a.seq,
                    at: a.at.to_offset(cst).format(fmt).unwrap_or_default(),
                    username: a.entry.who.username.clone(),
                    action: a.entry.action.clone(),
                    action_label: action_label(lang, &a.entry.action),
                    target: target(&a.entry.target_type, &a.entry.target_id),
                    outcome: t(lang, &format!("outcome.{}", a.entry.outcome.code())),
                    outcome_class: outcome_class(a.entry.outcome),
                    reason: reason_text(lang, &a.entry.reason),
                    ip: a.entry.who.ip.clone(),
                    detail: detail_fields(lang, &a.entry.detail),
                })
                .collect(),
            r.total,
        ),
        None => (Vec::new(), 0),
    };
    let links = ListLinks::new("/audit", &q, &listing, &AuditSort::USUAL);
    let heads = links.headings(
        lang,
        &listing,
        &[
            ("audit.seq", "num", None),
            ("audit.time", "", Some(AuditSort::At)),
            ("audit.user", "", None),
            ("audit.action", "", None),
            ("audit.target", "", None),
            ("audit.outcome", "", None),
            ("audit.reason", "", None),
            ("audit.ip", "", None),
            ("audit.detail", "", None),
        ],
    );
    Ok(render(&AuditPage {
        ctx: ctx(&st, lang, &auth, "/audit").crumb("audit.title", ""),
        rows,
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.code(), t(lang, &format!("outcome.{}", o.code()))))
            .collect(),
        actions: AuditAction::all().map(|a| (a.code().to_owned(), action_label(lang, a.code()))).collect(),
        f_username: q.username.clone(),
        f_action: q.action.clone(),
        f_outcome: q.outcome.clone(),
        f_customer: q.customer.clone(),
        f_from: q.from.clone(),
        f_to: q.to.clone(),
        problem,
        heads,
        pager: links.pager(total, &listing),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_labelled_fields() {
        let d = detail_fields(Lang::Zh, r#"{"field":"mobile","account":null,"masked":"138****5678"}"#);
        assert_eq!(
            d,
            [("字段".to_owned(), "手机号码".to_owned()), ("遮蔽值".to_owned(), "138****5678".to_owned())]
        );
        let d = detail_fields(
            Lang::Zh,
            r#"{"kind":"modify","after":"{\"occupation\":\"教师\"}","fields":["mobile","name"]}"#,
        );
        assert_eq!(d[0], ("变更后".to_owned(), "职业: 教师".to_owned()));
        assert_eq!(d[1], ("字段".to_owned(), "手机号码; 姓名".to_owned()));
        assert_eq!(d[2], ("类型".to_owned(), "修改".to_owned()));
        let d = detail_fields(Lang::En, r#"{"before":[["mobile","138****5678"]],"hit":true}"#);
        assert_eq!(
            d,
            [("Before".to_owned(), "Mobile: 138****5678".to_owned()), ("Hit".to_owned(), "Yes".to_owned())]
        );
        assert_eq!(detail_fields(Lang::Zh, "not json"), [(String::new(), "not json".to_owned())]);
        assert!(detail_fields(Lang::Zh, "").is_empty());
    }
}
