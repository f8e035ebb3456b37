//! Customers (客户): the scoped search, the customer 360 with purpose-bound reveal, and
//! proposing new customers and changes for the outlet supervisor's review (R-CUS-5..8,
//! R-PRV-2, R-PRV-9). Every value shown here arrives masked from the service; the one
//! exception is what a reveal has just returned, shown once in place after its redirect.

use pcis_domain::customer::{CustomerField, CustomerId, CustomerInput, IdType, SensitiveField};
use pcis_domain::identity::Gender;
use pcis_service::CustomerRecord;
use pcis_service::CustomerSort;
use pcis_service::customers::{Customer360, CustomerDetail, SEARCH_COUNT_CAP};

use super::*;
use crate::i18n::translate;
use crate::inputs::CustomerSearchQuery;
use crate::shown_once::ShownOnce;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(search).post(propose_new))
        .route("/customers/new", get(new_form))
        .route("/customers/{id}", get(view))
        .route("/customers/{id}/reveal", post(reveal))
        .route("/customers/{id}/change", get(change_form).post(propose_change))
}

// ---------------------------------------------------------------------------------------
// Search (客户查询)

struct CustomerRow {
    seq: i64,
    id: i64,
    customer_no: String,
    name: String,
    tier_code: &'static str,
    tier: String,
    vip: bool,
    band: String,
    owner: String,
    manager: String,
    incomplete: bool,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct SearchPage {
    ctx: Ctx,
    rows: Vec<CustomerRow>,
    f: CustomerSearchQuery,
    tiers: Vec<(&'static str, String)>,
    institutions: Vec<(String, String)>,
    managers: Vec<(String, String)>,
    problem: String,
    /// Said when a partial mobile or ID number found nothing.
    hint: String,
    pager: Pager,
}

async fn search(
    Req { st, lang, meta, auth }: Req,
    PageQuery(q): PageQuery<CustomerSearchQuery>,
) -> PageResult {
    let actor = &auth.session.actor;
    let choices = st.app.customer_search_choices(actor).await?;
    let listing = q.list.listing(CustomerSort::USUAL);
    let found = match q.search() {
        Ok(input) => st.app.search_customers(actor, &meta, &input, &listing).await,
        Err(e) => Err(e),
    };
    let (result, problem) = match found {
        Ok(r) => (Some(r), String::new()),
        Err(DomainError::Invalid(f)) => {
            (None, format!("{}: {}", t(lang, &format!("customer.{}", f[0].field)), t(lang, f[0].rule)))
        }
        Err(e) => return Err(PageError::from(e)),
    };
    let hint = match &result {
        Some(r) if r.total == 0 && looks_like_part_of_a_number(&q.q) => t(lang, "customer.partial_number"),
        _ => String::new(),
    };
    let (rows, pager) = match result {
        Some(r) => {
            let total = r.total;
            let rows = r
                .numbered()
                .map(|(seq, c)| CustomerRow {
                    seq,
                    id: c.id.0,
                    customer_no: c.customer_no,
                    name: c.name,
                    tier_code: c.tier.code(),
                    tier: t(lang, &format!("tier.{}", c.tier.code())),
                    vip: c.vip_member,
                    band: t(lang, c.aum_band),
                    owner: c.owner_name,
                    manager: c.manager.unwrap_or_default(),
                    incomplete: !c.complete,
                })
                .collect();
            let links = ListLinks::new("/customers", &q, &listing, &CustomerSort::USUAL);
            let pager = links.pager(total, &listing).capped_at(SEARCH_COUNT_CAP);
            (rows, pager)
        }
        None => (Vec::new(), Pager::new(0, 1, 20, |_| String::new())),
    };
    Ok(render(&SearchPage {
        ctx: ctx(&st, lang, &auth, "/customers").crumb("customer.title", "").watermarked(st.app.clock.now()),
        rows,
        tiers: pcis_domain::customer::Tier::ALL
            .iter()
            .map(|t2| (t2.code(), t(lang, &format!("tier.{}", t2.code()))))
            .collect(),
        institutions: choices
            .institutions
            .iter()
            .map(|i| {
                (i.id.0.to_string(), format!("{}{}", "　".repeat(i.path.depth().saturating_sub(1)), i.name))
            })
            .collect(),
        managers: choices
            .managers
            .iter()
            .map(|(id, name, staff_no)| (id.0.to_string(), format!("{name} ({staff_no})")))
            .collect(),
        f: q,
        problem,
        hint,
        pager,
    }))
}

/// Digits (an ID may end in X) that are neither a whole mobile (11) nor a whole ID number
/// (18): searched as a customer number, and when none matches the page says that partial
/// mobiles and IDs are not searched (they are found by their blind index, whole only).
fn looks_like_part_of_a_number(q: &str) -> bool {
    let q = q.trim();
    let digits = q.strip_suffix(['X', 'x']).unwrap_or(q);
    (6..=17).contains(&q.len())
        && q.len() != 11
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------
// The customer 360 (客户视图)

/// One labelled value of the 360; `reveal` names the sensitive field behind a masked value.
struct Shown {
    label: String,
    value: String,
    reveal: Option<&'static str>,
    revealed: bool,
}

struct HoldingRow {
    id: i64,
    account_no: String,
    revealed: bool,
    product_type: String,
    product: String,
    currency: String,
    balance: i64,
    opened_on: String,
    matures_on: String,
    status: String,
}

struct TxnRow {
    at_us: i64,
    account_no: String,
    amount: i64,
    credit: bool,
    channel: String,
    summary: String,
}

/// A value a reveal has just returned: (field, account, full value).
type Revealed = (SensitiveField, Option<i64>, String);

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    ctx: Ctx,
    id: i64,
    customer_no: String,
    name: Shown,
    tier_code: &'static str,
    tier: String,
    vip: bool,
    band: String,
    owner: String,
    manager: String,
    incomplete: bool,
    basis: String,
    can_reveal: bool,
    can_propose: bool,
    identity: Vec<Shown>,
    contacts: Vec<Shown>,
    holdings: Vec<HoldingRow>,
    transactions: Vec<TxnRow>,
    txn_pager: Pager,
    /// Totals, channels, tier history, assignees, tags and consents as the service gives
    /// them; the template names their codes.
    detail: Option<CustomerDetail>,
    reasons: Vec<(&'static str, String)>,
    notice: String,
    problem: String,
}

impl CustomerPage {
    /// The masked customer fields that may be revealed together in one step: (field, label).
    fn revealable(&self) -> Vec<(&'static str, &str)> {
        std::iter::once(&self.name)
            .chain(&self.identity)
            .chain(&self.contacts)
            .filter(|f| !f.revealed)
            .filter_map(|f| f.reveal.map(|code| (code, f.label.as_str())))
            .collect()
    }
}

#[derive(Deserialize, Default, Clone)]
struct ViewQuery {
    #[serde(default)]
    tpage: Option<i64>,
    #[serde(default)]
    notice: String,
    /// 1 after a reveal: the page shows the values it held, once.
    #[serde(default)]
    shown: u8,
}

/// Reasons offered for a reveal; each is an audit reason code with a text in both languages.
const REVEAL_REASONS: [&str; 4] = ["reveal_verify", "reveal_contact", "reveal_request", "reveal_risk"];

async fn customer_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    id: CustomerId,
    tpage: i64,
    revealed: &[Revealed],
) -> Result<CustomerPage, DomainError> {
    let actor = &auth.session.actor;
    let c: Customer360 = st.app.customer_360(actor, meta, id).await?;
    let transactions = match &c.detail {
        Some(_) => Some(st.app.customer_transactions(actor, meta, id, tpage).await?),
        None => None,
    };
    let shown = |field: SensitiveField, label_key: &str, masked: Option<&str>| {
        let full = revealed.iter().find(|r| r.0 == field && r.1.is_none()).map(|r| r.2.clone());
        Shown {
            label: t(lang, label_key),
            revealed: full.is_some(),
            value: full.unwrap_or_else(|| masked.unwrap_or_default().to_owned()),
            reveal: masked.filter(|m| !m.is_empty()).map(|_| field.code()),
        }
    };
    let plain = |label_key: &str, value: String| Shown {
        label: t(lang, label_key),
        value,
        reveal: None,
        revealed: false,
    };
    let s = &c.summary;
    let mut page = CustomerPage {
        ctx: ctx(st, lang, auth, "/customers")
            .crumb("customer.title", "/customers")
            .crumb("customer.view", "")
            .watermarked(st.app.clock.now()),
        id: id.0,
        customer_no: s.customer_no.clone(),
        name: shown(SensitiveField::Name, "customer.name", Some(&s.name)),
        tier_code: s.tier.code(),
        tier: t(lang, &format!("tier.{}", s.tier.code())),
        vip: s.vip_member,
        band: t(lang, s.aum_band),
        owner: s.owner_name.clone(),
        manager: s.manager.clone().unwrap_or_default(),
        incomplete: !s.complete,
        basis: t(lang, c.basis.key()),
        can_reveal: c.can_reveal,
        can_propose: c.can_propose,
        identity: Vec::new(),
        contacts: Vec::new(),
        holdings: Vec::new(),
        transactions: Vec::new(),
        txn_pager: Pager::new(0, 1, 20, |_| String::new()),
        detail: None,
        reasons: REVEAL_REASONS.iter().map(|r| (*r, t(lang, &format!("audit_reason.{r}")))).collect(),
        notice: String::new(),
        problem: String::new(),
    };
    let Some(d) = c.detail else { return Ok(page) };
    let r = &d.record;
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    page.identity = vec![
        plain("customer.gender", r.gender.as_deref().map(|g| label(lang, "gender", g)).unwrap_or_default()),
        plain("customer.birth_date", opt(&r.birth_date)),
        plain("customer.nationality", opt(&r.nationality)),
        plain("customer.occupation", opt(&r.occupation)),
        plain("customer.education", opt(&r.education)),
        plain("customer.marital_status", opt(&r.marital_status)),
        plain("customer.id_type", label(lang, "id_type", &r.id_type)),
        shown(SensitiveField::IdNumber, "customer.id_number", r.id_number.as_deref()),
        plain("customer.id_issuer", opt(&r.id_issuer)),
        plain("customer.id_expiry", opt(&r.id_expiry)),
        plain(
            "customer.risk_level",
            r.risk_level.as_deref().map(|l| label(lang, "risk", l)).unwrap_or_default(),
        ),
        plain("customer.risk_assessed_on", opt(&r.risk_assessed_on)),
        plain("customer.points", r.points.to_string()),
    ];
    page.contacts = vec![
        shown(SensitiveField::Mobile, "customer.mobile", r.mobile.as_deref()),
        shown(SensitiveField::Phone, "customer.phone", r.phone.as_deref()),
        shown(SensitiveField::Email, "customer.email", r.email.as_deref()),
        shown(SensitiveField::Address, "customer.address", r.address.as_deref()),
    ];
    page.holdings = d
        .holdings
        .iter()
        .map(|h| {
            let full = revealed
                .iter()
                .find(|r| r.0 == SensitiveField::AccountNo && r.1 == Some(h.id))
                .map(|r| r.2.clone());
            HoldingRow {
                id: h.id,
                revealed: full.is_some(),
                account_no: full.unwrap_or_else(|| h.account_no.clone()),
                product_type: label(lang, "product", &h.product_type),
                product: h.product_name.clone(),
                currency: h.currency.clone(),
                balance: h.balance,
                opened_on: h.opened_on.clone(),
                matures_on: h.matures_on.clone().unwrap_or_default(),
                status: label(lang, "account_status", &h.status),
            }
        })
        .collect();
    if let Some(txns) = transactions {
        page.transactions = txns
            .items
            .iter()
            .map(|x| TxnRow {
                at_us: x.at_us,
                account_no: x.account_no.clone(),
                amount: x.amount,
                credit: x.amount >= 0,
                channel: label(lang, "channel", &x.channel),
                summary: x.summary.clone(),
            })
            .collect();
        page.txn_pager = Pager::new(txns.total, txns.page, txns.per_page, |p| {
            format!("/customers/{}?tpage={p}#transactions", id.0)
        });
    }
    page.detail = Some(d);
    Ok(page)
}

async fn view(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    PageQuery(q): PageQuery<ViewQuery>,
) -> PageResult {
    let tpage = q.tpage.unwrap_or(1).clamp(1, 100_000);
    // Values a reveal has just returned, held for this one page.
    let revealed = match q.shown {
        1 => match ShownOnce::take(&st, &auth).await? {
            Some(ShownOnce::Customer { id: of, values }) if of == id => values,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut page = customer_page(&st, lang, &auth, &meta, CustomerId(id), tpage, &revealed).await?;
    if q.notice == "proposed" {
        page.notice = t(lang, "customer.proposed");
    }
    if !revealed.is_empty() {
        let names: Vec<String> =
            revealed.iter().map(|r| t(lang, &format!("customer.{}", r.0.code()))).collect();
        page.notice = translate(lang, "customer.revealed_fields", &[("fields", &lang.list(&names))]);
    }
    Ok(render(&page))
}

#[derive(Deserialize)]
struct RevealForm {
    /// One or several sensitive fields of the customer (an account number: one, with its
    /// account).
    #[serde(default)]
    field: Vec<String>,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reason_other: String,
}

/// Reveals the chosen fields (one audit record each) and returns to the 360, which shows
/// them once.
async fn reveal(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<RevealForm>,
) -> PageResult {
    let customer = CustomerId(id);
    let Some(fields) = f.field.iter().map(|c| SensitiveField::parse(c)).collect::<Option<Vec<_>>>() else {
        return Err(PageError::from(DomainError::invalid("field", "err.reveal_field")));
    };
    let account = f.account_id.trim().parse::<i64>().ok();
    // A chosen reason is recorded as its code (the audit page shows its text); "other" is
    // recorded as typed.
    let reason = REVEAL_REASONS.iter().find(|r| **r == f.reason).map_or(f.reason_other.as_str(), |r| *r);
    let mut values = Vec::new();
    let mut problem = fields.is_empty().then_some("err.reveal_none");
    for field in fields {
        match st.app.reveal(&auth.session.actor, &meta, customer, field, account, reason).await {
            Ok(value) => values.push((field, account, value)),
            Err(DomainError::Invalid(fields)) => {
                problem = Some(fields[0].rule);
                break;
            }
            Err(e) => return Err(PageError::from(e)),
        }
    }
    if let Some(rule) = problem {
        let mut page = customer_page(&st, lang, &auth, &meta, customer, 1, &[]).await?;
        page.problem = t(lang, rule);
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    ShownOnce::Customer { id, values }.hold(&st, &auth).await?;
    Ok(Redirect::to(&format!("/customers/{id}?shown=1")).into_response())
}

// ---------------------------------------------------------------------------------------
// Proposing a new customer or a change (提交信息变更)

/// One input of the customer form: (name, label, kind, value typed, current masked value).
struct FormField {
    name: &'static str,
    label: String,
    required: bool,
    kind: &'static str,
    value: String,
    current: String,
    options: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "customer_form.html")]
struct CustomerFormPage {
    ctx: Ctx,
    /// `None` for a new customer.
    customer: Option<(i64, String, String)>,
    fields: Vec<FormField>,
    errors: FieldErrors,
}

/// The customer form as typed (the web form posts flat fields).
#[derive(Deserialize, Default)]
struct CustomerForm {
    #[serde(default)]
    op: String,
    #[serde(flatten)]
    input: CustomerInput,
}

/// The customer form's fields, in `CustomerField` order; key information is required on a
/// new customer (R-CUS-3), a change fills only what changes.
fn form_fields(lang: Lang, input: &CustomerInput, current: Option<&CustomerRecord>) -> Vec<FormField> {
    CustomerField::ALL
        .iter()
        .map(|&field| {
            let name = field.code();
            let options: Vec<(&'static str, String)> = match field {
                CustomerField::Gender => {
                    Gender::ALL.iter().map(|g| (g.code(), label(lang, name, g.code()))).collect()
                }
                CustomerField::IdType => {
                    IdType::ALL.iter().map(|x| (x.code(), label(lang, name, x.code()))).collect()
                }
                _ => Vec::new(),
            };
            let current = current.map(|r| r.masked_field(field)).unwrap_or_default();
            // Coded values read as their names.
            let current = options.iter().find(|o| o.0 == current).map_or(current, |o| o.1.clone());
            FormField {
                name,
                label: t(lang, &format!("customer.{name}")),
                required: current.is_empty() && field.is_key(),
                kind: field.input_type(),
                value: input.get(field).to_owned(),
                current,
                options,
            }
        })
        .collect()
}

/// The names of the form's fields, for placing errors.
fn form_names() -> Vec<&'static str> {
    CustomerField::ALL.iter().map(|f| f.code()).collect()
}

fn new_customer_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    input: &CustomerInput,
    errors: FieldErrors,
) -> CustomerFormPage {
    CustomerFormPage {
        ctx: ctx(st, lang, auth, "/customers/new").crumb("customer.propose_new", ""),
        customer: None,
        fields: form_fields(lang, input, None),
        errors: errors.on_form(&form_names()),
    }
}

async fn new_form(Req { st, lang, meta, auth }: Req) -> PageResult {
    st.app.require(&auth.session.actor, &meta, AuditAction::CustomerPropose).await?;
    Ok(render(&new_customer_page(&st, lang, &auth, &CustomerInput::default(), FieldErrors::default())))
}

async fn propose_new(Req { st, lang, meta, auth }: Req, Form(f): Form<CustomerForm>) -> PageResult {
    match st.app.propose_new_customer(&auth.session.actor, &meta, &f.input).await {
        Ok(_) => Ok(Redirect::to("/proposals?notice=proposed").into_response()),
        Err(e) => {
            let errors = form_errors(lang, e)?;
            let page = new_customer_page(&st, lang, &auth, &f.input, errors);
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

async fn change_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    id: CustomerId,
    input: &CustomerInput,
    errors: FieldErrors,
) -> Result<CustomerFormPage, DomainError> {
    let c = st.app.customer_360(&auth.session.actor, meta, id).await?;
    let (Some(d), true) = (c.detail, c.can_propose) else {
        return Err(DomainError::Denied { reason: "deny.no_permission" });
    };
    Ok(CustomerFormPage {
        ctx: ctx(st, lang, auth, "/customers")
            .crumb("customer.title", "/customers")
            .crumb("customer.view", &format!("/customers/{}", id.0))
            .crumb("customer.propose_change", "")
            .watermarked(st.app.clock.now()),
        customer: Some((id.0, c.summary.customer_no.clone(), c.summary.name.clone())),
        fields: form_fields(lang, input, Some(&d.record)),
        errors: errors.on_form(&form_names()),
    })
}

async fn change_form(Req { st, lang, meta, auth }: Req, PagePath(id): PagePath<i64>) -> PageResult {
    let page = change_page(
        &st,
        lang,
        &auth,
        &meta,
        CustomerId(id),
        &CustomerInput::default(),
        FieldErrors::default(),
    )
    .await?;
    Ok(render(&page))
}

async fn propose_change(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<CustomerForm>,
) -> PageResult {
    let id = CustomerId(id);
    let changes = (f.op != "delete").then_some(&f.input);
    match st.app.propose_customer_change(&auth.session.actor, &meta, id, changes).await {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{}?notice=proposed", id.0)).into_response()),
        Err(e) => {
            let errors = form_errors(lang, e)?;
            let page = change_page(&st, lang, &auth, &meta, id, &f.input, errors).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_partial_mobile_or_id_is_told_apart_from_whole_ones() {
        for partial in ["138123", "1381234567", "110105194912", "11010519491231002"] {
            assert!(super::looks_like_part_of_a_number(partial), "{partial}");
        }
        for other in ["13812345678", "11010519491231002X", "张三", "C00001", "12345"] {
            assert!(!super::looks_like_part_of_a_number(other), "{other}");
        }
    }
}
