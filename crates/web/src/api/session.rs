//! Logging in and out, the caller itself and its password.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(State(st): State<AppState>, Meta(meta): Meta, ApiJson(b): ApiJson<LoginBody>) -> ApiResult {
    let s = st.app.login(&b.username, &b.password, &meta).await?;
    let body = json!({ "token": s.token, "csrf_token": s.csrf_token, "must_change_password": s.must_change_password });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn logout(Req { st, meta, auth, .. }: Req) -> ApiResult {
    st.app.logout(&auth.session, &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn me(Req { auth, .. }: Req) -> Json<serde_json::Value> {
    let a = &auth.session.actor;
    Json(json!({
        "id": a.user_id, "username": a.username, "display_name": a.display_name, "staff_no": a.staff_no,
        "institution_id": a.institution_id, "institution_name": a.institution_name,
        "institution_trail": a.institution_trail, "roles": a.roles,
        "must_change_password": auth.session.must_change_password,
    }))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn change_password(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<PasswordBody>) -> ApiResult {
    st.app
        .change_password(&auth.session, &meta, &b.current_password, &b.new_password, &b.confirm_password)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
