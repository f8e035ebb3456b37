//! Institutions (机构): the tree, create, edit, status, CSV import.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/institutions", get(institutions).post(create_institution))
        .route("/institutions/import", post(import_institutions))
        .route("/institutions/{id}", get(institution).put(update_institution))
        .route("/institutions/{id}/status", post(institution_status))
}

async fn institutions(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let list = st.app.institution_tree(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": list })).into_response())
}

async fn institution(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
    Ok(Json(inst).into_response())
}

#[derive(Deserialize)]
struct NewInstitutionBody {
    #[serde(default)]
    parent_code: String,
    #[serde(flatten)]
    input: InstitutionInput,
}

async fn create_institution(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<NewInstitutionBody>,
) -> ApiResult {
    let inst = st.app.create_institution(&auth.session.actor, &meta, &b.parent_code, &b.input).await?;
    Ok((StatusCode::CREATED, Json(inst)).into_response())
}

async fn update_institution(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<InstitutionInput>,
) -> ApiResult {
    let inst = st.app.update_institution(&auth.session.actor, &meta, InstitutionId(id), &b).await?;
    Ok(Json(inst).into_response())
}

async fn institution_status(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<StatusInput>,
) -> ApiResult {
    let status = b.status()?;
    st.app.set_institution_status(&auth.session.actor, &meta, InstitutionId(id), status, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The CSV file as the request body (`text/csv`), UTF-8 or GB18030.
async fn import_institutions(Req { st, meta, auth, .. }: Req, ApiBody(body): ApiBody) -> ApiResult {
    let summary = st.app.import_institutions(&auth.session.actor, &meta, &body).await?;
    Ok(Json(summary).into_response())
}
