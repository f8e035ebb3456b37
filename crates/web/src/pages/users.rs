//! User administration (用户管理): list, create, roles and account operations.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(users).post(create_user))
        .route("/users/new", get(new_user))
        .route("/users/{id}", get(user_detail))
        .route("/users/{id}/roles", post(user_roles))
        .route("/users/{id}/account", post(user_account))
        .route("/users/{id}/reset-password", post(user_reset_password))
}

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
    heads: Vec<Heading>,
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

async fn users(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<UsersQuery>) -> PageResult {
    let filter = q.filter(st.app.clock.now());
    let listing = q.list.listing(UserSort::USUAL);
    let result = st.app.list_users(&auth.session.actor, &meta, &filter, &listing).await?;
    let total = result.total;
    let rows = result
        .numbered()
        .map(|(seq, u)| UserRow {
            seq,
            locked: is_locked(&st, &u),
            id: u.id.0,
            username: u.username,
            display_name: u.display_name,
            staff_no: u.staff_no,
            institution: u.institution_name,
            roles: role_names(lang, &u.roles),
            status: t(lang, &format!("user_status.{}", u.status.code())),
            status_class: user_status_class(u.status),
        })
        .collect();
    let links = ListLinks::new("/users", &q, &listing, &UserSort::USUAL);
    let heads = links.headings(
        lang,
        &listing,
        &[
            ("app.seq", "num", None),
            ("user.username", "", Some(UserSort::Username)),
            ("user.display_name", "", Some(UserSort::Name)),
            ("user.staff_no", "", Some(UserSort::StaffNo)),
            ("user.institution", "", Some(UserSort::Institution)),
            ("user.roles", "", None),
            ("user.status", "", Some(UserSort::Status)),
            ("app.actions", "", None),
        ],
    );
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
        heads,
        pager: links.pager(total, &listing),
        can_create: st.app.policy.can(&auth.session.actor, Action::UserCreate),
    }))
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct NewUserPage {
    ctx: Ctx,
    text_fields: Vec<InputField>,
    institutions: Vec<(String, String)>,
    institution_code: String,
    roles: Vec<Choice>,
    errors: FieldErrors,
}

/// Role checkboxes: only roles the actor administers (R-USR-4), the held ones ticked.
fn role_choices(lang: Lang, auth: &Auth, held: &[Role]) -> Vec<Choice> {
    Role::ALL
        .iter()
        .filter(|r| auth.session.actor.roles.contains(&r.administered_by()) || held.contains(r))
        .map(|r| Choice {
            code: r.code(),
            label: t(lang, &format!("role.{}", r.code())),
            on: held.contains(r),
        })
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
            InputField::new("username", t(lang, "user.username"), f.username),
            InputField::new("display_name", t(lang, "user.display_name"), f.display_name),
            InputField::new("staff_no", t(lang, "user.staff_no"), f.staff_no),
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
        errors: errors.on_form(&["username", "display_name", "staff_no", "institution_code", "roles"]),
    })
}

async fn new_user(Req { st, lang, meta, auth }: Req) -> PageResult {
    let page = new_user_page(&st, lang, &auth, &meta, UserForm::default(), FieldErrors::default()).await?;
    Ok(render(&page))
}

async fn create_user(Req { st, lang, meta, auth }: Req, Form(f): Form<UserForm>) -> PageResult {
    let input = UserInput {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        staff_no: f.staff_no.clone(),
        institution_code: f.institution_code.clone(),
        roles: f.roles.clone(),
    };
    match st.app.create_user(&auth.session.actor, &meta, &input).await {
        Ok((id, otp)) => {
            let user = st.app.user(&auth.session.actor, &meta, id).await?;
            Ok(render(&detail_page(&st, lang, &auth, user, Notice::Created(otp), FieldErrors::default())))
        }
        Err(e) => {
            let errors = form_errors(lang, e)?;
            let page = new_user_page(&st, lang, &auth, &meta, f, errors).await?;
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
    roles: Vec<Choice>,
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
        errors: errors.on_form(&["roles", "reason"]),
    }
}

async fn user_detail(Req { st, lang, meta, auth }: Req, PagePath(id): PagePath<i64>) -> PageResult {
    let user = st.app.user(&auth.session.actor, &meta, UserId(id)).await?;
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
        Err(e) => return Err(PageError::from(e)),
    };
    let user = st.app.user(&auth.session.actor, meta, id).await?;
    Ok((status, render(&detail_page(st, lang, auth, user, notice, errors))).into_response())
}

async fn user_roles(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<RolesInput>,
) -> PageResult {
    let result =
        st.app.set_user_roles(&auth.session.actor, &meta, UserId(id), &f.roles).await.map(|()| Notice::Done);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}

async fn user_account(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<AccountInput>,
) -> PageResult {
    let op = f.op()?;
    let result =
        st.app.account_op(&auth.session.actor, &meta, UserId(id), op, &f.reason).await.map(|()| Notice::Done);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}

async fn user_reset_password(Req { st, lang, meta, auth }: Req, PagePath(id): PagePath<i64>) -> PageResult {
    let result = st.app.reset_password(&auth.session.actor, &meta, UserId(id)).await.map(Notice::Reset);
    after_user_action(&st, lang, &auth, &meta, UserId(id), result).await
}
