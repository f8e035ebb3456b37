//! Users (用户) and their roles and accounts.

use super::*;
use pcis_domain::user::User;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users, create_user))
        .routes(routes!(user))
        .routes(routes!(user_roles))
        .routes(routes!(user_account))
        .routes(routes!(reset_password))
}

/// Users in scope, paged.
#[utoipa::path(get, path = "/users", tag = "users", params(UsersQuery, ListParams),
    responses((status = 200, body = pcis_service::Page<User>)))]
async fn users(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<UsersQuery>) -> ApiResult {
    let filter = q.filter(st.app.clock.now());
    let page =
        st.app.list_users(&auth.session.actor, &meta, &filter, &q.list.listing(UserSort::USUAL)).await?;
    Ok(Json(page).into_response())
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(Id),
    responses((status = 200, body = User), (status = 404, body = ErrorBody, description = "No such user")))]
async fn user(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let u = st.app.user(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(u).into_response())
}

#[derive(Serialize, ToSchema)]
struct CreatedUser {
    id: UserId,
    /// Shown once; to be changed at first login.
    one_time_password: String,
}

/// Create a user; returns the one-time password once.
#[utoipa::path(post, path = "/users", tag = "users", request_body = UserInput,
    responses((status = 201, body = CreatedUser)))]
async fn create_user(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<UserInput>) -> ApiResult {
    let (id, one_time_password) = st.app.create_user(&auth.session.actor, &meta, &b).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { id, one_time_password })).into_response())
}

/// Replace a user's roles.
#[utoipa::path(put, path = "/users/{id}/roles", tag = "users", params(Id), request_body = RolesInput,
    responses((status = 204, description = "Replaced"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "The user is deregistered")))]
async fn user_roles(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<RolesInput>,
) -> ApiResult {
    st.app.set_user_roles(&auth.session.actor, &meta, UserId(id), &b.roles).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Freeze, deregister, reactivate, unlock or force logout, with a reason.
#[utoipa::path(post, path = "/users/{id}/account", tag = "users", params(Id), request_body = AccountInput,
    responses((status = 204, description = "Done"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "The user is deregistered, or already active")))]
async fn user_account(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<AccountInput>,
) -> ApiResult {
    let op = b.op()?;
    st.app.account_op(&auth.session.actor, &meta, UserId(id), op, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, ToSchema)]
struct OneTimePassword {
    one_time_password: String,
}

/// Reset to a new one-time password; unlocks the user and ends its sessions.
#[utoipa::path(post, path = "/users/{id}/reset-password", tag = "users", params(Id),
    responses((status = 200, body = OneTimePassword),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "The user is deregistered")))]
async fn reset_password(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let one_time_password = st.app.reset_password(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(OneTimePassword { one_time_password }).into_response())
}
