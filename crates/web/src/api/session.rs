//! Logging in and out, the caller itself and its password.

use super::*;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login, logout)).routes(routes!(me)).routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct NewSessionBody {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// For `X-CSRF-Token` when the session travels in the browser's cookie instead.
    csrf_token: String,
    /// A one-time or expired password: only changing it and logging out are open.
    must_change_password: bool,
}

/// Log in.
#[utoipa::path(post, path = "/session", tag = "session", security(()), request_body = LoginBody,
    responses((status = 201, body = NewSessionBody),
        (status = 401, body = ErrorBody, description = "Unknown user, wrong password, locked or inactive account (one answer for all)")))]
async fn login(State(st): State<AppState>, Meta(meta): Meta, ApiJson(b): ApiJson<LoginBody>) -> ApiResult {
    let s = st.app.login(&b.username, &b.password, &meta).await?;
    let body = NewSessionBody {
        token: s.token,
        csrf_token: s.csrf_token,
        must_change_password: s.must_change_password,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Log out (ends this session).
#[utoipa::path(delete, path = "/session", tag = "session", responses((status = 204, description = "Logged out")))]
async fn logout(Req { st, meta, auth, .. }: Req) -> ApiResult {
    st.app.logout(&auth.session, &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in caller.
#[derive(Serialize, ToSchema)]
struct Me {
    id: UserId,
    username: String,
    display_name: String,
    staff_no: String,
    institution_id: InstitutionId,
    institution_name: String,
    /// The names from the head office down to the caller's institution.
    institution_trail: String,
    roles: Vec<pcis_domain::role::Role>,
    must_change_password: bool,
}

/// The signed-in caller.
#[utoipa::path(get, path = "/me", tag = "session", responses((status = 200, body = Me)))]
async fn me(Req { auth, .. }: Req) -> Json<Me> {
    let a = &auth.session.actor;
    Json(Me {
        id: a.user_id,
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        staff_no: a.staff_no.clone(),
        institution_id: a.institution_id,
        institution_name: a.institution_name.clone(),
        institution_trail: a.institution_trail.clone(),
        roles: a.roles.clone(),
        must_change_password: auth.session.must_change_password,
    })
}

#[derive(Deserialize, ToSchema)]
struct PasswordBody {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// Change one's own password: the current one, the composition rule, not one of the last few.
#[utoipa::path(post, path = "/me/password", tag = "session", request_body = PasswordBody,
    responses((status = 204, description = "Changed; this session stays open")))]
async fn change_password(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<PasswordBody>) -> ApiResult {
    st.app
        .change_password(&auth.session, &meta, &b.current_password, &b.new_password, &b.confirm_password)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
