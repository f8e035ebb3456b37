//! Customers (客户): search, 360, transactions, reveal and change proposals.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(customers).post(propose_new_customer))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/transactions", get(customer_transactions))
        .route("/customers/{id}/reveal", post(reveal))
        .route("/customers/{id}/proposals", post(propose_change))
}

async fn customers(
    Req { st, meta, auth, .. }: Req,
    ApiQuery(q): ApiQuery<crate::inputs::CustomerSearchQuery>,
) -> ApiResult {
    let search = q.search()?;
    let page = st.app.search_customers(&auth.session.actor, &meta, &search, q.page()).await?;
    Ok(Json(page).into_response())
}

async fn customer(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let c = st.app.customer_360(&auth.session.actor, &meta, CustomerId(id)).await?;
    Ok(Json(c).into_response())
}

async fn customer_transactions(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult {
    let page = st.app.customer_transactions(&auth.session.actor, &meta, CustomerId(id), q.page()).await?;
    Ok(Json(page).into_response())
}

async fn reveal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RevealInput>,
) -> ApiResult {
    let field = b.field()?;
    let value =
        st.app.reveal(&auth.session.actor, &meta, CustomerId(id), field, b.account_id, &b.reason).await?;
    Ok(Json(json!({ "field": field, "value": value })).into_response())
}

async fn propose_new_customer(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<CustomerInput>,
) -> ApiResult {
    let id = st.app.propose_new_customer(&auth.session.actor, &meta, &b).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "proposal": id, "status": "pending" }))).into_response())
}

async fn propose_change(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ChangeInput>,
) -> ApiResult {
    let changes = b.changes()?;
    let pid = st.app.propose_customer_change(&auth.session.actor, &meta, CustomerId(id), changes).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "proposal": pid, "status": "pending" }))).into_response())
}
