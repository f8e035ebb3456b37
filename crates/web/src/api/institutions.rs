//! Institutions (机构): the tree, create, edit, status, CSV import.

use super::*;
use pcis_domain::institution::Institution;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(institutions, create_institution))
        .routes(routes!(import_institutions))
        .routes(routes!(institution, update_institution))
        .routes(routes!(institution_status))
}

/// Institutions in scope, in tree order.
#[utoipa::path(get, path = "/institutions", tag = "institutions", responses((status = 200, body = Items<Institution>)))]
async fn institutions(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let list = st.app.institution_tree(&auth.session.actor, &meta).await?;
    Ok(items(list))
}

/// One institution.
#[utoipa::path(get, path = "/institutions/{id}", tag = "institutions", params(Id),
    responses((status = 200, body = Institution), (status = 404, body = ErrorBody, description = "No such institution")))]
async fn institution(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
    Ok(Json(inst).into_response())
}

#[derive(Deserialize, ToSchema)]
struct NewInstitutionBody {
    /// The parent's code.
    #[serde(default)]
    parent_code: String,
    #[serde(flatten)]
    input: InstitutionInput,
}

/// Create a child institution.
#[utoipa::path(post, path = "/institutions", tag = "institutions", request_body = NewInstitutionBody,
    responses((status = 201, body = Institution)))]
async fn create_institution(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<NewInstitutionBody>,
) -> ApiResult {
    let inst = st.app.create_institution(&auth.session.actor, &meta, &b.parent_code, &b.input).await?;
    Ok((StatusCode::CREATED, Json(inst)).into_response())
}

/// Edit an institution.
#[utoipa::path(put, path = "/institutions/{id}", tag = "institutions", params(Id), request_body = InstitutionInput,
    responses((status = 200, body = Institution), (status = 404, body = ErrorBody, description = "No such institution")))]
async fn update_institution(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<InstitutionInput>,
) -> ApiResult {
    let inst = st.app.update_institution(&auth.session.actor, &meta, InstitutionId(id), &b).await?;
    Ok(Json(inst).into_response())
}

/// Suspend, reactivate or close an institution, with a reason.
#[utoipa::path(post, path = "/institutions/{id}/status", tag = "institutions", params(Id), request_body = StatusInput,
    responses((status = 204, description = "Changed"),
        (status = 404, body = ErrorBody, description = "No such institution"),
        (status = 409, body = ErrorBody, description = "Closed for good, or still has children or users")))]
async fn institution_status(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<StatusInput>,
) -> ApiResult {
    let status = b.status()?;
    st.app.set_institution_status(&auth.session.actor, &meta, InstitutionId(id), status, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Import institutions from CSV (UTF-8 or GB18030): all rows or none.
#[utoipa::path(post, path = "/institutions/import", tag = "institutions",
    request_body(content = String, content_type = "text/csv", description = "The CSV file, UTF-8 or GB18030"),
    responses((status = 200, body = pcis_service::institutions::ImportSummary),
        (status = 422, body = ErrorBody, description = "A bad header (`invalid_input`) or bad rows (`invalid_rows`); nothing was written")))]
async fn import_institutions(Req { st, meta, auth, .. }: Req, ApiBody(body): ApiBody) -> ApiResult {
    let summary = st.app.import_institutions(&auth.session.actor, &meta, &body).await?;
    Ok(Json(summary).into_response())
}
