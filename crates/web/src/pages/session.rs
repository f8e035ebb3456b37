//! Logging in and out, the forced password change and the language switch.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/lang/{code}", get(switch_lang))
}

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
        Err(e) => Err(PageError::from(e)),
    }
}

async fn logout(Req { st, meta, auth, .. }: Req, jar: CookieJar) -> PageResult {
    st.app.logout(&auth.session, &meta).await?;
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
    let back = if is_local_path(&q.back) { q.back } else { "/".into() };
    let c = Cookie::build(("lang", lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build();
    (jar.add(c), Redirect::to(&back)).into_response()
}

/// Whether `back` is a path on this site and nothing else. Browsers drop tabs and newlines
/// from a URL and read `\` as `/`, so `/<tab>/host` or `/\host` would leave the site: the value
/// must parse as a path and query, hold no control character, space or backslash, and not
/// start with `//`.
fn is_local_path(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && !back.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && back.parse::<axum::http::uri::PathAndQuery>().is_ok_and(|p| p.as_str() == back)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    ctx: Ctx,
    must_change: bool,
    done: bool,
    rules: String,
    fields: Vec<InputField>,
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
            InputField::new("current_password", t(lang, "password.current"), ""),
            InputField::new("new_password", t(lang, "password.new"), ""),
            InputField::new("confirm_password", t(lang, "password.confirm"), ""),
        ],
        errors: errors.on_form(&["current_password", "new_password", "confirm_password"]),
    }
}

async fn password_page(Req { st, lang, auth, .. }: Req) -> Response {
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

async fn change_password(Req { st, lang, meta, mut auth }: Req, Form(f): Form<PasswordForm>) -> PageResult {
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
            let errors = form_errors(lang, e)?;
            let page = password_page_of(&st, lang, &auth, errors, false);
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}
