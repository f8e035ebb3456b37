//! Institution administration (机构管理): the tree, forms, status changes, CSV import.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions", get(institutions).post(create_institution))
        .route("/institutions/new", get(new_institution))
        .route("/institutions/import", get(import_page).post(import_institutions))
        .route("/institutions/{id}/edit", get(edit_institution))
        .route("/institutions/{id}", post(update_institution))
        .route("/institutions/{id}/status", post(institution_status))
}

struct InstRow {
    id: i64,
    code: String,
    name: String,
    /// The stored path, so the browser can fold a subtree.
    path: String,
    depth: usize,
    level: String,
    kind: String,
    status: String,
    status_class: &'static str,
    effective_from: String,
    can_add_child: bool,
}

#[derive(Template)]
#[template(path = "institutions.html")]
struct InstitutionsPage {
    ctx: Ctx,
    rows: Vec<InstRow>,
    can_manage: bool,
    notice: String,
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

fn status_class(s: InstStatus) -> &'static str {
    match s {
        InstStatus::Active => "success",
        InstStatus::Suspended => "warning",
        InstStatus::Closed => "muted",
    }
}

async fn institutions(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<NoticeQuery>) -> PageResult {
    let list = st.app.institution_tree(&auth.session.actor, &meta).await?;
    let base = list.first().map_or(0, |i| i.path.depth());
    let rows = list
        .iter()
        .map(|i| InstRow {
            id: i.id.0,
            code: i.code.clone(),
            name: i.name.clone(),
            path: i.path.as_str().to_owned(),
            depth: i.path.depth() - base,
            level: t(lang, i.level.label_key()),
            kind: t(lang, &format!("kind.{}", i.kind.code())),
            status: t(lang, &format!("inst_status.{}", i.status.code())),
            status_class: status_class(i.status),
            effective_from: i.effective_from.to_string(),
            can_add_child: i.level != Level::OUTLET && i.status == InstStatus::Active,
        })
        .collect();
    let can_manage = st.app.policy.can(&auth.session.actor, Action::InstitutionManage);
    let notice = if q.saved.is_some() { t(lang, "inst.saved") } else { String::new() };
    Ok(render(&InstitutionsPage {
        ctx: ctx(&st, lang, &auth, "/institutions").crumb("inst.title", ""),
        rows,
        can_manage,
        notice,
    }))
}

#[derive(Template)]
#[template(path = "institution_form.html")]
struct InstitutionForm {
    ctx: Ctx,
    title: String,
    action: String,
    parent_code: String,
    parent_label: String,
    level_label: String,
    kinds: Vec<(&'static str, String)>,
    input: InstitutionInput,
    errors: FieldErrors,
    edit_id: Option<i64>,
    status_label: String,
}

fn kinds_for(lang: Lang, level: Level) -> Vec<(&'static str, String)> {
    InstKind::ALL
        .iter()
        .filter(|k| (level == Level::OUTLET) != (**k == InstKind::Management))
        .map(|k| (k.code(), t(lang, &format!("kind.{}", k.code()))))
        .collect()
}

#[derive(Deserialize)]
struct ParentQuery {
    #[serde(default)]
    parent: String,
}

async fn find_parent(
    st: &AppState,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    code: &str,
) -> Result<Institution, DomainError> {
    let list = st.app.institution_tree(&auth.session.actor, meta).await?;
    list.into_iter().find(|i| i.code == code.trim().to_ascii_uppercase()).ok_or(DomainError::NotFound)
}

/// The fields the institution form shows.
const FORM_FIELDS: [&str; 6] = ["parent_code", "code", "name", "kind", "effective_from", "reason"];

fn new_form(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    parent: &Institution,
    input: InstitutionInput,
    errors: FieldErrors,
) -> InstitutionForm {
    let level = Level::new(i64::from(parent.level.get()) + 1).unwrap_or(Level::OUTLET);
    InstitutionForm {
        ctx: ctx(st, lang, auth, "/institutions")
            .crumb("inst.title", "/institutions")
            .crumb("inst.new_title", ""),
        title: t(lang, "inst.new_title"),
        action: "/institutions".into(),
        parent_code: parent.code.clone(),
        parent_label: format!("{} ({})", parent.name, parent.code),
        level_label: t(lang, level.label_key()),
        kinds: kinds_for(lang, level),
        input,
        errors: errors.on_form(&FORM_FIELDS),
        edit_id: None,
        status_label: String::new(),
    }
}

async fn new_institution(
    Req { st, lang, meta, auth }: Req,
    PageQuery(q): PageQuery<ParentQuery>,
) -> PageResult {
    let parent = find_parent(&st, &auth, &meta, &q.parent).await?;
    Ok(render(&new_form(&st, lang, &auth, &parent, InstitutionInput::default(), FieldErrors::default())))
}

#[derive(Deserialize)]
struct InstitutionFormData {
    #[serde(default)]
    parent_code: String,
    #[serde(flatten)]
    input: InstitutionInput,
}

async fn create_institution(
    Req { st, lang, meta, auth }: Req,
    Form(f): Form<InstitutionFormData>,
) -> PageResult {
    match st.app.create_institution(&auth.session.actor, &meta, &f.parent_code, &f.input).await {
        Ok(_) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e) => {
            let errors = form_errors(lang, e)?;
            let parent = find_parent(&st, &auth, &meta, &f.parent_code).await?;
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&new_form(&st, lang, &auth, &parent, f.input, errors)),
            )
                .into_response())
        }
    }
}

fn edit_form(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    inst: &Institution,
    input: InstitutionInput,
    errors: FieldErrors,
) -> InstitutionForm {
    InstitutionForm {
        ctx: ctx(st, lang, auth, "/institutions")
            .crumb("inst.title", "/institutions")
            .crumb("inst.edit_title", ""),
        title: format!("{} · {}", t(lang, "inst.edit_title"), inst.name),
        action: format!("/institutions/{}", inst.id.0),
        parent_code: String::new(),
        parent_label: inst.parent_id.map_or_else(|| t(lang, "app.none"), |p| format!("#{}", p.0)),
        level_label: t(lang, inst.level.label_key()),
        kinds: kinds_for(lang, inst.level),
        input,
        errors: errors.on_form(&FORM_FIELDS),
        edit_id: Some(inst.id.0),
        status_label: t(lang, &format!("inst_status.{}", inst.status.code())),
    }
}

fn input_of(i: &Institution) -> InstitutionInput {
    InstitutionInput {
        code: i.code.clone(),
        name: i.name.clone(),
        kind: i.kind.code().into(),
        effective_from: i.effective_from.to_string(),
    }
}

async fn edit_institution(Req { st, lang, meta, auth }: Req, PagePath(id): PagePath<i64>) -> PageResult {
    let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
    Ok(render(&edit_form(&st, lang, &auth, &inst, input_of(&inst), FieldErrors::default())))
}

async fn update_institution(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<InstitutionFormData>,
) -> PageResult {
    match st.app.update_institution(&auth.session.actor, &meta, InstitutionId(id), &f.input).await {
        Ok(_) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e) => {
            let errors = form_errors(lang, e)?;
            let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&edit_form(&st, lang, &auth, &inst, f.input, errors)),
            )
                .into_response())
        }
    }
}

async fn institution_status(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<StatusInput>,
) -> PageResult {
    let status = f.status()?;
    match st
        .app
        .set_institution_status(&auth.session.actor, &meta, InstitutionId(id), status, &f.reason)
        .await
    {
        Ok(()) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e @ (DomainError::Invalid(_) | DomainError::Conflict(_))) => {
            let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
            let errors = match e {
                DomainError::Conflict(key) => {
                    FieldErrors::from_fields(lang, &[pcis_domain::FieldError::new("reason", key)])
                }
                other => form_errors(lang, other)?,
            };
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&edit_form(&st, lang, &auth, &inst, input_of(&inst), errors)),
            )
                .into_response())
        }
        Err(e) => Err(PageError::from(e)),
    }
}

#[derive(Template)]
#[template(path = "institution_import.html")]
struct ImportPage {
    ctx: Ctx,
    summary: String,
    problems: Vec<String>,
}

fn import_ctx(st: &AppState, lang: Lang, auth: &Auth) -> Ctx {
    ctx(st, lang, auth, "/institutions").crumb("inst.title", "/institutions").crumb("inst.import_title", "")
}

async fn import_page(Req { st, lang, auth, .. }: Req) -> Response {
    render(&ImportPage { ctx: import_ctx(&st, lang, &auth), summary: String::new(), problems: Vec::new() })
}

async fn import_institutions(Req { st, lang, meta, auth }: Req, mut multipart: Multipart) -> PageResult {
    let mut bytes = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            bytes = field
                .bytes()
                .await
                .map_err(|_| PageError::status(axum::http::StatusCode::PAYLOAD_TOO_LARGE))?
                .to_vec();
        }
    }
    let page = |summary, problems| ImportPage { ctx: import_ctx(&st, lang, &auth), summary, problems };
    match st.app.import_institutions(&auth.session.actor, &meta, &bytes).await {
        Ok(s) => {
            let summary = crate::translate(
                lang,
                "inst.import_done",
                &[
                    ("read", &s.read.to_string()),
                    ("inserted", &s.inserted.to_string()),
                    ("updated", &s.updated.to_string()),
                    ("unchanged", &s.unchanged.to_string()),
                ],
            );
            Ok(render(&page(summary, Vec::new())))
        }
        Err(DomainError::InvalidRows(rows)) => {
            let problems = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} · {}: {}",
                        crate::translate(lang, "inst.row", &[("row", &r.row.to_string())]),
                        r.field,
                        t(lang, r.rule)
                    )
                })
                .collect();
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page(String::new(), problems)))
                .into_response())
        }
        Err(DomainError::Invalid(fields)) => {
            let problems = fields.iter().map(|f| format!("{}: {}", f.field, t(lang, f.rule))).collect();
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page(String::new(), problems)))
                .into_response())
        }
        Err(e) => Err(PageError::from(e)),
    }
}
