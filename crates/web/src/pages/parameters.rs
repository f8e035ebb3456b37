//! Business parameters (业务参数, R-CUS-4): the business administrator sets the tier
//! thresholds and the VIP standard in yuan; customers move at the next recomputation.

use pcis_domain::customer::ThresholdsInput;

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/parameters", get(show).post(save))
}

#[derive(Template)]
#[template(path = "parameters.html")]
struct ParametersPage {
    ctx: Ctx,
    /// (name, label, value as typed)
    fields: Vec<(&'static str, String, String)>,
    errors: FieldErrors,
    saved: bool,
}

fn page(st: &AppState, lang: Lang, auth: &Auth, input: &ThresholdsInput) -> ParametersPage {
    let field =
        |name: &'static str, value: &str| (name, t(lang, &format!("parameter.{name}")), value.to_owned());
    ParametersPage {
        ctx: ctx(st, lang, auth, "/parameters").crumb("parameter.title", ""),
        fields: vec![
            field("gold", &input.gold),
            field("platinum", &input.platinum),
            field("diamond", &input.diamond),
            field("vip", &input.vip),
        ],
        errors: FieldErrors::default(),
        saved: false,
    }
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    saved: bool,
}

async fn show(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<ShowQuery>) -> PageResult {
    let current = st.app.business_parameters(&auth.session.actor, &meta).await?;
    let mut p = page(&st, lang, &auth, &ThresholdsInput::from_thresholds(&current));
    p.saved = q.saved;
    Ok(render(&p))
}

async fn save(Req { st, lang, meta, auth }: Req, Form(input): Form<ThresholdsInput>) -> PageResult {
    let errors = match st.app.set_tier_thresholds(&auth.session.actor, &meta, &input).await {
        Ok(_) => return Ok(Redirect::to("/parameters?saved=true").into_response()),
        Err(e) => form_errors(lang, e)?,
    };
    let mut p = page(&st, lang, &auth, &input);
    p.errors = errors;
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
}
