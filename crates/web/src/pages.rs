//! The browser UI. Each handler parses the form, calls one service and renders a page;
//! a field error re-renders the form with the input kept and the message beside the field.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::{CookieJar, Form};
use pcis_domain::DomainError;
use pcis_domain::audit::Outcome;
use pcis_domain::institution::{InstKind, InstStatus, Institution, InstitutionId, InstitutionInput, Level};
use pcis_domain::role::{Action, Role};
use pcis_domain::user::{User, UserId, UserInput, UserStatus};
use serde::Deserialize;

use crate::error::{PageError, PagePath, PageQuery};
use crate::inputs::{AccountInput, AuditQuery, RolesInput, StatusInput, UsersQuery};
use crate::security::{Auth, Meta, PRE_SESSION_COOKIE, SESSION_COOKIE, UiAuth};
use crate::views::{Ctx, FieldErrors, Pager, form_errors, render};
use crate::{AppState, Lang};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/lang/{code}", get(switch_lang))
        .route("/institutions", get(institutions).post(create_institution))
        .route("/institutions/new", get(new_institution))
        .route("/institutions/import", get(import_page).post(import_institutions))
        .route("/institutions/{id}/edit", get(edit_institution))
        .route("/institutions/{id}", post(update_institution))
        .route("/institutions/{id}/status", post(institution_status))
        .route("/users", get(users).post(create_user))
        .route("/users/new", get(new_user))
        .route("/users/{id}", get(user_detail))
        .route("/users/{id}/roles", post(user_roles))
        .route("/users/{id}/account", post(user_account))
        .route("/users/{id}/reset-password", post(user_reset_password))
        .route("/audit", get(audit))
        .route("/roles", get(roles))
}

type PageResult = Result<Response, PageError>;

fn ctx(st: &AppState, lang: Lang, auth: &Auth, path: &str) -> Ctx {
    let mut ctx = Ctx::for_actor(lang, &auth.session.csrf_token, path, &auth.session.actor, &st.app.policy);
    if auth.session.must_change_password {
        // Nothing else is open until the password is changed; don't offer it.
        ctx.nav.clear();
    }
    ctx
}

fn err(lang: Lang) -> impl Fn(DomainError) -> PageError {
    move |e| PageError::new(e, lang)
}

fn t(lang: Lang, key: &str) -> String {
    crate::translate(lang, key, &[])
}

// ---- session ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: Ctx,
    username: String,
    message: String,
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn cookie(st: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(st.config.secure_cookies)
        .same_site(SameSite::Strict)
        .build()
}

async fn login_page(State(st): State<AppState>, jar: CookieJar, lang: Lang) -> Response {
    let (jar, token) = pre_session_token(&st, jar);
    let page = LoginPage {
        ctx: Ctx::anonymous(lang, token, "/login"),
        username: String::new(),
        message: String::new(),
    };
    (jar, render(&page)).into_response()
}

fn pre_session_token(st: &AppState, jar: CookieJar) -> (CookieJar, String) {
    match jar.get(PRE_SESSION_COOKIE).map(|c| c.value().to_owned()) {
        Some(t) if t.len() == 64 => (jar, t),
        _ => {
            let t = random_hex();
            (jar.add(cookie(st, PRE_SESSION_COOKIE, t.clone())), t)
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(st): State<AppState>,
    jar: CookieJar,
    lang: Lang,
    Meta(meta): Meta,
    Form(f): Form<LoginForm>,
) -> PageResult {
    match st.app.login(&f.username, &f.password, &meta).await {
        Ok(s) => {
            let jar = jar.add(cookie(&st, SESSION_COOKIE, s.token));
            let to = if s.must_change_password { "/password" } else { "/" };
            Ok((jar, Redirect::to(to)).into_response())
        }
        Err(DomainError::BadCredentials) => {
            let (jar, token) = pre_session_token(&st, jar);
            let page = LoginPage {
                ctx: Ctx::anonymous(lang, token, "/login"),
                username: f.username.chars().take(32).collect(),
                message: t(lang, "login.failed"),
            };
            Ok((axum::http::StatusCode::UNAUTHORIZED, jar, render(&page)).into_response())
        }
        Err(e) => Err(PageError::new(e, lang)),
    }
}

async fn logout(
    State(st): State<AppState>,
    jar: CookieJar,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
) -> PageResult {
    st.app.logout(&auth.session, &meta).await.map_err(err(lang))?;
    Ok((jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
struct LangQuery {
    #[serde(default)]
    back: String,
}

/// Sets the language cookie and returns to a local page (never an external URL).
async fn switch_lang(
    Path(code): Path<String>,
    PageQuery(q): PageQuery<LangQuery>,
    jar: CookieJar,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    // Only a path on this site: not `//host` nor `/\host`, which browsers treat as another host.
    let local = q.back.starts_with('/') && !q.back.starts_with("//") && !q.back.contains('\\');
    let back = if local { q.back } else { "/".into() };
    let c = Cookie::build(("lang", lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build();
    (jar.add(c), Redirect::to(&back)).into_response()
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    ctx: Ctx,
    must_change: bool,
    done: bool,
    rules: String,
    fields: Vec<(&'static str, String)>,
    errors: FieldErrors,
}

fn password_page_of(st: &AppState, lang: Lang, auth: &Auth, errors: FieldErrors, done: bool) -> PasswordPage {
    let p = &st.app.config.password;
    PasswordPage {
        ctx: ctx(st, lang, auth, "/password").crumb("password.title", ""),
        must_change: auth.session.must_change_password && !done,
        done,
        rules: crate::translate(
            lang,
            "password.rules",
            &[("n", &p.min_length.to_string()), ("h", &p.history.to_string())],
        ),
        fields: vec![
            ("current_password", t(lang, "password.current")),
            ("new_password", t(lang, "password.new")),
            ("confirm_password", t(lang, "password.confirm")),
        ],
        errors,
    }
}

async fn password_page(State(st): State<AppState>, lang: Lang, UiAuth(auth): UiAuth) -> Response {
    render(&password_page_of(&st, lang, &auth, FieldErrors::default(), false))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn change_password(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(mut auth): UiAuth,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    match st
        .app
        .change_password(&auth.session, &meta, &f.current_password, &f.new_password, &f.confirm_password)
        .await
    {
        Ok(()) => {
            auth.session.must_change_password = false;
            Ok(render(&password_page_of(&st, lang, &auth, FieldErrors::default(), true)))
        }
        Err(e) => {
            let errors = form_errors(lang, e).map_err(err(lang))?;
            let page = password_page_of(&st, lang, &auth, errors, false);
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

// ---- home ----

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    welcome: String,
    /// (label, link, count)
    todos: Vec<(String, String, i64)>,
    /// (role name, what the role does)
    duties: Vec<(String, String)>,
}

async fn home(State(st): State<AppState>, lang: Lang, Meta(meta): Meta, UiAuth(auth): UiAuth) -> PageResult {
    let actor = &auth.session.actor;
    let mut todos = Vec::new();
    if st.app.policy.can(actor, Action::UserUnlock) {
        let locked = st.app.count_locked_users(actor, &meta).await.map_err(err(lang))?;
        if locked > 0 {
            todos.push((t(lang, "home.locked_users"), "/users?locked=1".to_owned(), locked));
        }
    }
    let welcome = crate::translate(lang, "home.welcome", &[("name", &actor.display_name)]);
    let duties = actor
        .roles
        .iter()
        .map(|r| (t(lang, &format!("role.{}", r.code())), t(lang, &format!("role_desc.{}", r.code()))))
        .collect();
    Ok(render(&HomePage { ctx: ctx(&st, lang, &auth, "/"), welcome, todos, duties }))
}

// ---- institutions ----

struct InstRow {
    id: i64,
    code: String,
    name: String,
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

async fn institutions(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> PageResult {
    let list = st.app.institution_tree(&auth.session.actor, &meta).await.map_err(err(lang))?;
    let base = list.first().map_or(0, |i| i.path.depth());
    let rows = list
        .iter()
        .map(|i| InstRow {
            id: i.id.0,
            code: i.code.clone(),
            name: i.name.clone(),
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
        .into_iter()
        .filter(|k| (level == Level::OUTLET) != (*k == InstKind::Management))
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
        errors,
        edit_id: None,
        status_label: String::new(),
    }
}

async fn new_institution(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PageQuery(q): PageQuery<ParentQuery>,
) -> PageResult {
    let parent = find_parent(&st, &auth, &meta, &q.parent).await.map_err(err(lang))?;
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
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    Form(f): Form<InstitutionFormData>,
) -> PageResult {
    match st.app.create_institution(&auth.session.actor, &meta, &f.parent_code, &f.input).await {
        Ok(_) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e) => {
            let errors = form_errors(lang, e).map_err(err(lang))?;
            let parent = find_parent(&st, &auth, &meta, &f.parent_code).await.map_err(err(lang))?;
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
        errors,
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

async fn edit_institution(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
) -> PageResult {
    let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await.map_err(err(lang))?;
    Ok(render(&edit_form(&st, lang, &auth, &inst, input_of(&inst), FieldErrors::default())))
}

async fn update_institution(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
    Form(f): Form<InstitutionFormData>,
) -> PageResult {
    match st.app.update_institution(&auth.session.actor, &meta, InstitutionId(id), &f.input).await {
        Ok(_) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e) => {
            let errors = form_errors(lang, e).map_err(err(lang))?;
            let inst =
                st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await.map_err(err(lang))?;
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&edit_form(&st, lang, &auth, &inst, f.input, errors)),
            )
                .into_response())
        }
    }
}

async fn institution_status(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
    Form(f): Form<StatusInput>,
) -> PageResult {
    let status = f.status().map_err(err(lang))?;
    match st
        .app
        .set_institution_status(&auth.session.actor, &meta, InstitutionId(id), status, &f.reason)
        .await
    {
        Ok(()) => Ok(Redirect::to("/institutions?saved=1").into_response()),
        Err(e @ (DomainError::Invalid(_) | DomainError::Conflict(_))) => {
            let inst =
                st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await.map_err(err(lang))?;
            let errors = match e {
                DomainError::Conflict(key) => {
                    FieldErrors::from_fields(lang, &[pcis_domain::FieldError::new("reason", key)])
                }
                other => form_errors(lang, other).map_err(err(lang))?,
            };
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&edit_form(&st, lang, &auth, &inst, input_of(&inst), errors)),
            )
                .into_response())
        }
        Err(e) => Err(PageError::new(e, lang)),
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

async fn import_page(State(st): State<AppState>, lang: Lang, UiAuth(auth): UiAuth) -> Response {
    render(&ImportPage { ctx: import_ctx(&st, lang, &auth), summary: String::new(), problems: Vec::new() })
}

async fn import_institutions(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    mut multipart: Multipart,
) -> PageResult {
    let mut bytes = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            bytes = field
                .bytes()
                .await
                .map_err(|_| PageError::status(axum::http::StatusCode::PAYLOAD_TOO_LARGE, lang))?
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
        Err(e) => Err(PageError::new(e, lang)),
    }
}

// ---- users ----

struct UserRow {
    seq: i64,
    id: i64,
    username: String,
    display_name: String,
    staff_no: String,
    institution: String,
    roles: String,
    status: String,
    status_class: &'static str,
    locked: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    ctx: Ctx,
    rows: Vec<UserRow>,
    q: String,
    status: String,
    role: String,
    locked: bool,
    statuses: Vec<(&'static str, String)>,
    roles: Vec<(&'static str, String)>,
    pager: Pager,
    can_create: bool,
}

fn role_names(lang: Lang, roles: &[Role]) -> String {
    roles.iter().map(|r| t(lang, &format!("role.{}", r.code()))).collect::<Vec<_>>().join("、")
}

fn user_status_class(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "success",
        UserStatus::Frozen => "warning",
        UserStatus::Deregistered => "muted",
    }
}

fn is_locked(st: &AppState, u: &User) -> bool {
    u.locked_until.is_some_and(|t| t > st.app.clock.now())
}

async fn users(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PageQuery(q): PageQuery<UsersQuery>,
) -> PageResult {
    let filter = q.filter(st.app.clock.now());
    let page = q.page();
    let result = st.app.list_users(&auth.session.actor, &meta, &filter, page).await.map_err(err(lang))?;
    let offset = (result.page - 1) * result.per_page;
    let rows = result
        .items
        .iter()
        .enumerate()
        .map(|(i, u)| UserRow {
            seq: offset + i as i64 + 1,
            id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            staff_no: u.staff_no.clone(),
            institution: u.institution_name.clone(),
            roles: role_names(lang, &u.roles),
            status: t(lang, &format!("user_status.{}", u.status.code())),
            status_class: user_status_class(u.status),
            locked: is_locked(&st, u),
        })
        .collect();
    let href = |p: i64| {
        let mut q2 = q.clone();
        q2.page = Some(p);
        format!("/users?{}", serde_urlencoded::to_string(&q2).unwrap_or_default())
    };
    Ok(render(&UsersPage {
        ctx: ctx(&st, lang, &auth, "/users").crumb("user.title", ""),
        rows,
        statuses: UserStatus::ALL
            .iter()
            .map(|s| (s.code(), t(lang, &format!("user_status.{}", s.code()))))
            .collect(),
        roles: Role::ALL.iter().map(|r| (r.code(), t(lang, &format!("role.{}", r.code())))).collect(),
        q: q.q.clone(),
        status: q.status.clone(),
        role: q.role.clone(),
        locked: q.locked == "1",
        pager: Pager::new(result.total, result.page, result.per_page, href),
        can_create: st.app.policy.can(&auth.session.actor, Action::UserCreate),
    }))
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct NewUserPage {
    ctx: Ctx,
    text_fields: Vec<(&'static str, String, String)>,
    institutions: Vec<(String, String)>,
    institution_code: String,
    roles: Vec<(&'static str, String, bool)>,
    errors: FieldErrors,
}

/// Role checkboxes: only roles the actor administers (R-USR-4), the held ones ticked.
fn role_choices(lang: Lang, auth: &Auth, held: &[Role]) -> Vec<(&'static str, String, bool)> {
    Role::ALL
        .iter()
        .filter(|r| auth.session.actor.roles.contains(&r.administered_by()) || held.contains(r))
        .map(|r| (r.code(), t(lang, &format!("role.{}", r.code())), held.contains(r)))
        .collect()
}

#[derive(Deserialize, Default)]
struct UserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    staff_no: String,
    #[serde(default)]
    institution_code: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn new_user_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    f: UserForm,
    errors: FieldErrors,
) -> Result<NewUserPage, DomainError> {
    let tree = st.app.institution_tree(&auth.session.actor, meta).await?;
    let held: Vec<Role> = f.roles.iter().filter_map(|r| Role::parse(r)).collect();
    Ok(NewUserPage {
        ctx: ctx(st, lang, auth, "/users").crumb("user.title", "/users").crumb("user.new_title", ""),
        text_fields: vec![
            ("username", t(lang, "user.username"), f.username),
            ("display_name", t(lang, "user.display_name"), f.display_name),
            ("staff_no", t(lang, "user.staff_no"), f.staff_no),
        ],
        institutions: tree
            .iter()
            .filter(|i| i.status == InstStatus::Active)
            .map(|i| {
                (
                    i.code.clone(),
                    format!("{}{} ({})", "　".repeat(i.path.depth().saturating_sub(1)), i.name, i.code),
                )
            })
            .collect(),
        institution_code: f.institution_code,
        roles: role_choices(lang, auth, &held),
        errors,
    })
}

async fn new_user(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
) -> PageResult {
    let page = new_user_page(&st, lang, &auth, &meta, UserForm::default(), FieldErrors::default())
        .await
        .map_err(err(lang))?;
    Ok(render(&page))
}

async fn create_user(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    Form(f): Form<UserForm>,
) -> PageResult {
    let input = UserInput {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        staff_no: f.staff_no.clone(),
        institution_code: f.institution_code.clone(),
        roles: f.roles.clone(),
    };
    match st.app.create_user(&auth.session.actor, &meta, &input).await {
        Ok((id, otp)) => {
            let user = st.app.user(&auth.session.actor, &meta, id).await.map_err(err(lang))?;
            Ok(render(&detail_page(&st, lang, &auth, user, Notice::Created(otp), FieldErrors::default())))
        }
        Err(e) => {
            let errors = form_errors(lang, e).map_err(err(lang))?;
            let page = new_user_page(&st, lang, &auth, &meta, f, errors).await.map_err(err(lang))?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "user_detail.html")]
struct UserDetailPage {
    ctx: Ctx,
    user: User,
    status: String,
    status_class: &'static str,
    locked: bool,
    role_names: String,
    roles: Vec<(&'static str, String, bool)>,
    notice: String,
    otp_label: String,
    otp: String,
    problem: String,
    errors: FieldErrors,
}

enum Notice {
    None,
    Done,
    Created(String),
    Reset(String),
    Problem(String),
}

fn detail_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    user: User,
    notice: Notice,
    errors: FieldErrors,
) -> UserDetailPage {
    let (notice, otp_label, otp, problem) = match notice {
        Notice::None => (String::new(), String::new(), String::new(), String::new()),
        Notice::Done => (t(lang, "user.done"), String::new(), String::new(), String::new()),
        Notice::Created(p) => (String::new(), t(lang, "user.created"), p, String::new()),
        Notice::Reset(p) => (String::new(), t(lang, "user.reset_done"), p, String::new()),
        Notice::Problem(m) => (String::new(), String::new(), String::new(), m),
    };
    UserDetailPage {
        ctx: ctx(st, lang, auth, "/users").crumb("user.title", "/users").crumb("user.detail", ""),
        status: t(lang, &format!("user_status.{}", user.status.code())),
        status_class: user_status_class(user.status),
        locked: is_locked(st, &user),
        role_names: role_names(lang, &user.roles),
        roles: role_choices(lang, auth, &user.roles),
        user,
        notice,
        otp_label,
        otp,
        problem,
        errors,
    }
}

async fn user_detail(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
) -> PageResult {
    let user = st.app.user(&auth.session.actor, &meta, UserId(id)).await.map_err(err(lang))?;
    Ok(render(&detail_page(&st, lang, &auth, user, Notice::None, FieldErrors::default())))
}

/// Renders the detail page after an account action, with its outcome.
async fn after_user_action(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    id: UserId,
    result: Result<Notice, DomainError>,
) -> PageResult {
    let (notice, errors, status) = match result {
        Ok(n) => (n, FieldErrors::default(), axum::http::StatusCode::OK),
        Err(DomainError::Invalid(fields)) => (
            Notice::None,
            FieldErrors::from_fields(lang, &fields),
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(DomainError::Conflict(key)) => {
            (Notice::Problem(t(lang, key)), FieldErrors::default(), axum::http::StatusCode::CONFLICT)
        }
        Err(e) => return Err(PageError::new(e, lang)),
    };
    let user = st.app.user(&auth.session.actor, meta, id).await.map_err(err(lang))?;
    Ok((status, render(&detail_page(st, lang, auth, user, notice, errors))).into_response())
}

async fn user_roles(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
    Form(f): Form<RolesInput>,
) -> PageResult {
    let result =
        st.app.set_user_roles(&auth.session.actor, &meta, UserId(id), &f.roles).await.map(|()| Notice::Done);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}

async fn user_account(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
    Form(f): Form<AccountInput>,
) -> PageResult {
    let op = f.op().map_err(err(lang))?;
    let result =
        st.app.account_op(&auth.session.actor, &meta, UserId(id), op, &f.reason).await.map(|()| Notice::Done);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}

async fn user_reset_password(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PagePath(id): PagePath<i64>,
) -> PageResult {
    let result = st.app.reset_password(&auth.session.actor, &meta, UserId(id)).await.map(Notice::Reset);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}

// ---- audit ----

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
    detail: String,
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
    f_from: String,
    f_to: String,
    problem: String,
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

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Denied => "danger",
        Outcome::Failed => "warning",
    }
}

async fn audit(
    State(st): State<AppState>,
    lang: Lang,
    Meta(meta): Meta,
    UiAuth(auth): UiAuth,
    PageQuery(q): PageQuery<AuditQuery>,
) -> PageResult {
    let page = q.page();
    let (result, problem) = match q.filter() {
        Ok(filter) => (
            Some(st.app.search_audit(&auth.session.actor, &meta, &filter, page).await.map_err(err(lang))?),
            String::new(),
        ),
        Err(DomainError::Invalid(f)) => (None, format!("{}: {}", f[0].field, t(lang, f[0].rule))),
        Err(e) => return Err(PageError::new(e, lang)),
    };
    // An invalid filter never reached the service; the page itself still needs the permission.
    if result.is_none() {
        st.app
            .require(&auth.session.actor, &meta, Action::AuditSearch, "audit.search")
            .await
            .map_err(err(lang))?;
    }
    let cst = time::macros::offset!(+8);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let (rows, total, page, per_page) = match result {
        Some(r) => (
            r.items
                .iter()
                .map(|a| AuditRow {
                    seq: a.seq,
                    at: a.at.to_offset(cst).format(fmt).unwrap_or_default(),
                    username: a.entry.who.username.clone(),
                    action: a.entry.action.clone(),
                    action_label: action_label(lang, &a.entry.action),
                    target: if a.entry.target_id.is_empty() {
                        a.entry.target_type.clone()
                    } else {
                        format!("{}:{}", a.entry.target_type, a.entry.target_id)
                    },
                    outcome: t(lang, &format!("outcome.{}", a.entry.outcome.code())),
                    outcome_class: outcome_class(a.entry.outcome),
                    reason: reason_text(lang, &a.entry.reason),
                    ip: a.entry.who.ip.clone(),
                    detail: a.entry.detail.clone(),
                })
                .collect(),
            r.total,
            r.page,
            r.per_page,
        ),
        None => (Vec::new(), 0, 1, 50),
    };
    let href = |p: i64| {
        let mut q2 = q.clone();
        q2.page = Some(p);
        format!("/audit?{}", serde_urlencoded::to_string(&q2).unwrap_or_default())
    };
    Ok(render(&AuditPage {
        ctx: ctx(&st, lang, &auth, "/audit").crumb("audit.title", ""),
        rows,
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.code(), t(lang, &format!("outcome.{}", o.code()))))
            .collect(),
        actions: pcis_service::AUDIT_ACTIONS.iter().map(|c| (c.to_string(), action_label(lang, c))).collect(),
        f_username: q.username.clone(),
        f_action: q.action.clone(),
        f_outcome: q.outcome.clone(),
        f_from: q.from.clone(),
        f_to: q.to.clone(),
        problem,
        pager: Pager::new(total, page, per_page, href),
    }))
}

// ---- roles and permissions ----

struct RoleRow {
    code: &'static str,
    name: String,
    administered_by: String,
    /// Per action, in `Action::ALL` order: the scope's label, or empty where not granted.
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    ctx: Ctx,
    actions: Vec<String>,
    rows: Vec<RoleRow>,
}

async fn roles(State(st): State<AppState>, lang: Lang, Meta(meta): Meta, UiAuth(auth): UiAuth) -> PageResult {
    let matrix = st.app.role_matrix(&auth.session.actor, &meta).await.map_err(err(lang))?;
    let rows = matrix
        .iter()
        .map(|r| RoleRow {
            code: r.role.code(),
            name: t(lang, &format!("role.{}", r.role.code())),
            administered_by: t(lang, &format!("role.{}", r.administered_by.code())),
            cells: Action::ALL
                .iter()
                .map(|a| {
                    r.grants
                        .iter()
                        .find(|g| g.action == *a)
                        .map_or(String::new(), |g| t(lang, &format!("roles.{}", g.scope.code())))
                })
                .collect(),
        })
        .collect();
    Ok(render(&RolesPage {
        ctx: ctx(&st, lang, &auth, "/roles").crumb("roles.title", ""),
        actions: Action::ALL.iter().map(|a| t(lang, &format!("action.{}", a.code()))).collect(),
        rows,
    }))
}
