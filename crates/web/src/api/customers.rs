//! Customers (客户): search, 360, transactions, reveal and change proposals.

use super::*;
use pcis_domain::customer::SensitiveField;
use pcis_domain::proposal::ProposalStatus;
use pcis_service::{CustomerSummary, Page, Transaction};

use crate::inputs::CustomerSearchQuery;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customers, propose_new_customer))
        .routes(routes!(customer))
        .routes(routes!(customer_transactions))
        .routes(routes!(reveal))
        .routes(routes!(propose_change))
}

/// Search customers in scope (R-CUS-6): `q` is a customer number, an exact ID number, an exact
/// mobile or a name prefix; summaries with masked names.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerSearchQuery, ListParams),
    responses((status = 200, body = Page<CustomerSummary>),
        (status = 404, body = ErrorBody, description = "No such institution"),
        (status = 422, body = ErrorBody, description = "An unknown tier, or an id that is not a number")))]
async fn customers(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<CustomerSearchQuery>) -> ApiResult {
    let search = q.search()?;
    let page = st
        .app
        .search_customers(&auth.session.actor, &meta, &search, &q.list.listing(CustomerSort::USUAL))
        .await?;
    Ok(Json(page).into_response())
}

/// Customer 360: summary, access basis (R-CUS-8) and, for detail roles, identity, contacts
/// (masked), holdings, channels, tier history, managers.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(Id),
    responses((status = 200, body = pcis_service::customers::Customer360)))]
async fn customer(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let c = st.app.customer_360(&auth.session.actor, &meta, CustomerId(id)).await?;
    Ok(Json(c).into_response())
}

/// Recent transactions, paged (detail roles only).
#[utoipa::path(get, path = "/customers/{id}/transactions", tag = "customers", params(Id, PageQuery),
    responses((status = 200, body = Page<Transaction>)))]
async fn customer_transactions(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult {
    let page = st.app.customer_transactions(&auth.session.actor, &meta, CustomerId(id), q.page()).await?;
    Ok(Json(page).into_response())
}

#[derive(Serialize, ToSchema)]
struct Revealed {
    field: SensitiveField,
    /// The full value.
    value: String,
}

/// Reveal one full value of one customer with a reason (audited, R-PRV-2).
#[utoipa::path(post, path = "/customers/{id}/reveal", tag = "customers", params(Id), request_body = RevealInput,
    responses((status = 200, body = Revealed),
        (status = 404, body = ErrorBody, description = "The customer holds no such value (or no such account)")))]
async fn reveal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<RevealInput>,
) -> ApiResult {
    let field = b.field()?;
    let value =
        st.app.reveal(&auth.session.actor, &meta, CustomerId(id), field, b.account_id, &b.reason).await?;
    Ok(Json(Revealed { field, value }).into_response())
}

/// A proposal waiting for the outlet supervisor.
#[derive(Serialize, ToSchema)]
struct Proposed {
    proposal: i64,
    status: ProposalStatus,
}

fn proposed(proposal: i64) -> ApiResult {
    Ok((StatusCode::ACCEPTED, Json(Proposed { proposal, status: ProposalStatus::Pending })).into_response())
}

/// Propose a new customer (maker-checker, R-CUS-7); applied only when the outlet supervisor
/// approves.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 202, body = Proposed)))]
async fn propose_new_customer(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<CustomerInput>,
) -> ApiResult {
    proposed(st.app.propose_new_customer(&auth.session.actor, &meta, &b).await?)
}

/// Propose a modification (`kind` = `modify`, with the changed fields) or the deletion
/// (`kind` = `delete`) of a customer.
#[utoipa::path(post, path = "/customers/{id}/proposals", tag = "customers", params(Id), request_body = ChangeInput,
    responses((status = 202, body = Proposed),
        (status = 404, body = ErrorBody, description = "The customer is gone"),
        (status = 409, body = ErrorBody, description = "A proposal for this customer is already pending (`already_pending`, naming it)")))]
async fn propose_change(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<ChangeInput>,
) -> ApiResult {
    let changes = b.changes()?;
    proposed(st.app.propose_customer_change(&auth.session.actor, &meta, CustomerId(id), changes).await?)
}
