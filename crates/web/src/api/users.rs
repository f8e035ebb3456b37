//! Users (用户) and their roles and accounts.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(users).post(create_user))
        .route("/users/{id}", get(user))
        .route("/users/{id}/roles", put(user_roles))
        .route("/users/{id}/account", post(user_account))
        .route("/users/{id}/reset-password", post(reset_password))
}

async fn users(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<UsersQuery>) -> ApiResult {
    let filter = q.filter(st.app.clock.now());
    let page =
        st.app.list_users(&auth.session.actor, &meta, &filter, &q.list.listing(UserSort::USUAL)).await?;
    Ok(Json(page).into_response())
}

async fn user(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let u = st.app.user(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(u).into_response())
}

async fn create_user(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<UserInput>) -> ApiResult {
    let (id, otp) = st.app.create_user(&auth.session.actor, &meta, &b).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "one_time_password": otp }))).into_response())
}

async fn user_roles(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RolesInput>,
) -> ApiResult {
    st.app.set_user_roles(&auth.session.actor, &meta, UserId(id), &b.roles).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_account(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AccountInput>,
) -> ApiResult {
    let op = b.op()?;
    st.app.account_op(&auth.session.actor, &meta, UserId(id), op, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reset_password(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let otp = st.app.reset_password(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(json!({ "one_time_password": otp })).into_response())
}
