//! Business parameters (业务参数, R-CUS-4): the business administrator sets the tier
//! thresholds and the VIP standard in yuan; customers move at the next recomputation.

use pcis_domain::customer::{ThresholdsInput, parse_typed_yuan};

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/parameters", get(show).post(save))
}

#[derive(Template)]
#[template(path = "parameters.html")]
struct ParametersPage {
    ctx: Ctx,
    /// The amounts as typed, each with its value in 万 when it reads as one.
    fields: Vec<InputField>,
    errors: FieldErrors,
    saved: bool,
}

fn page(st: &AppState, lang: Lang, auth: &Auth, input: &ThresholdsInput) -> ParametersPage {
    let field = |name: &'static str, value: &str| {
        let wan = parse_typed_yuan(name, value).map(|fen| wan_text(lang, fen)).unwrap_or_default();
        InputField { hint: wan, ..InputField::new(name, t(lang, &format!("parameter.{name}")), value) }
    };
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

/// An amount in 万 for the hint beside a money input: `= 50 万元` (app.js does the same as
/// one types).
fn wan_text(lang: Lang, fen: i64) -> String {
    let wan = format!("{:.6}", fen as f64 / 1_000_000.0);
    let wan = wan.trim_end_matches('0').trim_end_matches('.');
    format!("= {wan} {}", t(lang, "parameter.wan"))
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    saved: bool,
}

async fn show(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<ShowQuery>) -> PageResult {
    let current = st.app.business_parameters(&auth.session.actor, &meta).await?;
    let mut p = page(&st, lang, &auth, &ThresholdsInput::for_form(&current));
    p.saved = q.saved;
    Ok(render(&p))
}

async fn save(Req { st, lang, meta, auth }: Req, Form(input): Form<ThresholdsInput>) -> PageResult {
    let errors = match st.app.set_tier_thresholds(&auth.session.actor, &meta, &input).await {
        Ok(_) => return Ok(Redirect::to("/parameters?saved=true").into_response()),
        Err(e) => form_errors(lang, e)?,
    };
    let mut p = page(&st, lang, &auth, &input);
    p.errors = errors.on_form(&["gold", "platinum", "diamond", "vip"]);
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
}
