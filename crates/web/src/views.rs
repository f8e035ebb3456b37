//! Page models and templates. One typed struct per page; askama escapes every value.

pub use pcis_domain::customer::grouped;
use pcis_domain::customer::typed_yuan;
use std::collections::HashMap;

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use pcis_domain::policy::{Actor, Policy};
use pcis_domain::role::Action;
use pcis_domain::{DomainError, FieldError};

use crate::i18n::{Lang, translate};

/// What every page's frame needs: language, CSRF token, the top bar and the navigation.
pub struct Ctx {
    pub lang: Lang,
    pub csrf: String,
    pub path: String,
    pub user: Option<UserBar>,
    pub nav: Vec<NavGroup>,
    pub crumbs: Vec<(String, String)>,
    /// R-PRV-9: pages showing customer data carry the viewer's name, staff number and time.
    pub watermark: Option<String>,
}

pub struct UserBar {
    pub name: String,
    pub staff_no: String,
    pub roles: String,
    pub institution: String,
    pub institution_trail: String,
}

pub struct NavGroup {
    pub label: String,
    pub items: Vec<NavItem>,
}

pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

impl Ctx {
    pub fn anonymous(lang: Lang, csrf: String, path: &str) -> Ctx {
        Ctx {
            lang,
            csrf,
            path: path.to_owned(),
            user: None,
            nav: Vec::new(),
            crumbs: Vec::new(),
            watermark: None,
        }
    }

    /// The frame for a logged-in user; the navigation shows only what the policy grants.
    pub fn for_actor(lang: Lang, csrf: &str, path: &str, actor: &Actor, policy: &Policy) -> Ctx {
        let t = |k: &str| translate(lang, k, &[]);
        let roles =
            actor.roles.iter().map(|r| t(&format!("role.{}", r.code()))).collect::<Vec<_>>().join("、");
        let entries: [(&str, Action, &'static str, &str); 12] = [
            ("nav.group_customer", Action::CustomerSearch, "/customers", "nav.customers"),
            ("nav.group_customer", Action::CustomerPropose, "/customers/new", "nav.new_customer"),
            ("nav.group_customer", Action::CustomerApprove, "/proposals", "nav.proposals"),
            ("nav.group_customer", Action::CustomerPropose, "/proposals", "nav.my_proposals"),
            ("nav.group_customer", Action::CustomerCreditLookup, "/credit", "nav.credit"),
            ("nav.group_customer", Action::SuspectView, "/suspects", "nav.suspects"),
            ("nav.group_admin", Action::InstitutionView, "/institutions", "nav.institutions"),
            ("nav.group_admin", Action::UserView, "/users", "nav.users"),
            ("nav.group_admin", Action::RoleView, "/roles", "nav.roles"),
            ("nav.group_admin", Action::ImportView, "/imports", "nav.imports"),
            ("nav.group_admin", Action::ParameterManage, "/parameters", "nav.parameters"),
            ("nav.group_audit", Action::AuditSearch, "/audit", "nav.audit"),
        ];
        let mut nav: Vec<NavGroup> = Vec::new();
        for (group, action, href, label) in entries {
            let listed = nav.iter().any(|g| g.items.iter().any(|i| i.href == href));
            if listed || !policy.can(actor, action) {
                continue;
            }
            // The longest matching link is the active one ("/customers/new" over "/customers").
            let longer = entries.iter().any(|e| e.2.len() > href.len() && path.starts_with(e.2));
            let item = NavItem { href, label: t(label), active: path.starts_with(href) && !longer };
            match nav.iter_mut().find(|g| g.label == t(group)) {
                Some(g) => g.items.push(item),
                None => nav.push(NavGroup { label: t(group), items: vec![item] }),
            }
        }
        Ctx {
            lang,
            csrf: csrf.to_owned(),
            path: path.to_owned(),
            user: Some(UserBar {
                name: actor.display_name.clone(),
                staff_no: actor.staff_no.clone(),
                roles,
                institution: actor.institution_name.clone(),
                institution_trail: actor.institution_trail.clone(),
            }),
            nav,
            crumbs: Vec::new(),
            watermark: None,
        }
    }

    /// Marks the page with the viewer and the time (R-PRV-9).
    pub fn watermarked(mut self, now: time::OffsetDateTime) -> Ctx {
        if let Some(u) = &self.user {
            let at = now.to_offset(CST).format(MINUTE).unwrap_or_default();
            self.watermark = Some(format!("{} {} {at}", u.name, u.staff_no));
        }
        self
    }

    /// Repetitions of the watermark text that tile the page.
    pub fn watermark_tiles(&self) -> std::ops::Range<usize> {
        0..if self.watermark.is_some() { 30 } else { 0 }
    }

    pub fn crumb(mut self, label_key: &str, href: &str) -> Ctx {
        self.crumbs.push((self.t(label_key), href.to_owned()));
        self
    }

    pub fn t(&self, key: &str) -> String {
        translate(self.lang, key, &[])
    }

    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        translate(self.lang, key, &[(name, &value.to_string())])
    }

    /// The name of a coded value (`group.code`); the code itself if it has none.
    pub fn label(&self, group: &str, code: &str) -> String {
        let key = format!("{group}.{code}");
        let text = self.t(&key);
        if text == key { code.to_owned() } else { text }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    pub fn html_lang(&self) -> &'static str {
        self.lang.code()
    }

    pub fn nav_home_active(&self) -> bool {
        self.path == "/"
    }
}

/// One choice of a set — a tab, an option, a checkbox: its code, its name, and whether it is
/// the current one (or ticked).
pub struct Choice {
    pub code: &'static str,
    pub label: String,
    pub on: bool,
}

/// One input of a form: its name (the field errors' key too), label, value as typed, and a
/// hint shown beside it.
pub struct InputField {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub hint: String,
}

impl InputField {
    pub fn new(name: &'static str, label: String, value: impl Into<String>) -> Self {
        InputField { name, label, value: value.into(), hint: String::new() }
    }
}

/// The templates' own filters: `{{ fen|money }}`, `{{ at_us|minute }}`, so that view models
/// carry amounts and instants as numbers and every page shows them alike.
pub mod filters {
    #[askama::filter_fn]
    pub fn money(fen: &i64, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::money(*fen))
    }

    #[askama::filter_fn]
    pub fn minute(us: &i64, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::minute(*us))
    }
}

/// China Standard Time, in which staff read every time.
pub use pcis_domain::CST;
const MINUTE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");

/// A stored instant (microseconds since the epoch) as `YYYY-MM-DD HH:MM` in China.
pub fn minute(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(|t| t.to_offset(CST).format(MINUTE).unwrap_or_default())
        .unwrap_or_default()
}

/// Fen as money the way staff read it: ¥1,234,567.89 (negative: -¥12.00).
pub fn money(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}¥{}", typed_yuan(fen.saturating_abs()))
}

/// Paging of a list: "共 N 条", the page, and links to its neighbours.
pub struct Pager {
    pub total: i64,
    /// Counting stopped at `total`: there are at least that many.
    pub at_cap: bool,
    pub page: i64,
    /// The number of pages, when the count is exact.
    pub last: i64,
    pub has_next: bool,
    pub prev_href: String,
    pub next_href: String,
    /// The pages around this one, and the first and last: (number, link, is this page);
    /// `None` stands for a gap.
    pub links: Vec<Option<(i64, String, bool)>>,
    /// The address asked for a page after the last: the list says so instead of showing an
    /// empty table under "page 999".
    pub beyond: bool,
    pub last_href: String,
    /// The page lengths offered: (length, link, is this one); none for a fixed length.
    pub sizes: Vec<(i64, String, bool)>,
    /// The "go to page" form, for a list of several pages.
    pub jump: Option<crate::listing::Jump>,
}

impl Pager {
    /// `href(p)` is the link to page `p` with the list's filters kept.
    pub fn new(total: i64, page: i64, per_page: i64, href: impl Fn(i64) -> String) -> Pager {
        let last = ((total + per_page - 1) / per_page.max(1)).max(1);
        let mut numbers: Vec<i64> = vec![1, last];
        numbers.extend((page - 2).max(1)..=(page + 2).min(last));
        numbers.sort_unstable();
        numbers.dedup();
        let mut links = Vec::new();
        for (i, n) in numbers.iter().enumerate() {
            if i > 0 && *n > numbers[i - 1] + 1 {
                links.push(None);
            }
            links.push(Some((*n, href(*n), *n == page)));
        }
        Pager {
            total,
            at_cap: false,
            page,
            last,
            has_next: page * per_page < total,
            prev_href: href(page - 1),
            next_href: href(page + 1),
            links,
            beyond: page > last,
            last_href: href(last),
            sizes: Vec::new(),
            jump: None,
        }
    }
}

impl Pager {
    /// For lists whose counting stops at `cap` (the customer search).
    pub fn capped_at(mut self, cap: i64) -> Pager {
        self.at_cap = self.total >= cap;
        if self.at_cap {
            // The count stopped: there is no known last page to link to.
            self.links.retain(|l| l.as_ref().is_some_and(|(n, ..)| *n <= self.page + 2));
            self.beyond = false;
        }
        self
    }

    pub fn total_grouped(&self) -> String {
        grouped(self.total.unsigned_abs())
    }
}

/// Errors of a form, translated: beside each field, and those about no field of the form
/// (the form as a whole, or a value the form does not show) above it (`form_problems.html`).
#[derive(Default)]
pub struct FieldErrors {
    by_field: HashMap<&'static str, String>,
    form: Vec<String>,
}

impl FieldErrors {
    pub fn from_fields(lang: Lang, fields: &[FieldError]) -> Self {
        let mut by_field = HashMap::new();
        for f in fields {
            by_field.entry(f.field).or_insert_with(|| translate(lang, f.rule, &[]));
        }
        Self { by_field, form: Vec::new() }
    }

    /// Moves the errors of fields the form does not show above the form.
    pub fn on_form(mut self, shown: &[&str]) -> Self {
        let mut elsewhere: Vec<&'static str> =
            self.by_field.keys().copied().filter(|f| !shown.contains(f)).collect();
        elsewhere.sort_unstable();
        for f in elsewhere {
            self.form.extend(self.by_field.remove(f));
        }
        self
    }

    pub fn get(&self, field: &str) -> &str {
        self.by_field.get(field).map_or("", String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.by_field.contains_key(field)
    }

    pub fn form(&self) -> &[String] {
        &self.form
    }
}

/// A form-level outcome: field errors to show, or another error to render as a page.
pub fn form_errors(lang: Lang, e: DomainError) -> Result<FieldErrors, DomainError> {
    match e {
        DomainError::Invalid(fields) => Ok(FieldErrors::from_fields(lang, &fields)),
        other => Err(other),
    }
}

pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    status: u16,
    message: String,
}

/// An error page, in the frame of the UI (navigation, logout) when `ctx` is a signed-in
/// user's, alone otherwise.
pub fn error_page(ctx: Ctx, status: StatusCode, message: &str) -> Response {
    render(&ErrorPage { ctx, status: status.as_u16(), message: message.to_owned() })
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.js"),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/app.css"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_links_the_pages_around_and_says_when_a_page_is_past_the_end() {
        let href = |p: i64| format!("/x?page={p}");
        let numbers =
            |p: &Pager| p.links.iter().map(|l| l.as_ref().map_or(0, |(n, ..)| *n)).collect::<Vec<_>>();
        let p = Pager::new(500, 10, 20, href);
        assert_eq!(numbers(&p), [1, 0, 8, 9, 10, 11, 12, 0, 25], "first, gap, around, gap, last");
        assert!(p.links.iter().flatten().any(|(n, _, current)| *n == 10 && *current));
        assert!(!p.beyond && p.has_next);
        let p = Pager::new(30, 999, 20, href);
        assert!(p.beyond && !p.has_next);
        assert_eq!((p.last, p.last_href.as_str()), (2, "/x?page=2"));
        let p = Pager::new(0, 1, 20, href);
        assert!(!p.beyond && p.links.len() == 1, "an empty list has one page, not a pager");
        let p = Pager::new(10_000, 3, 20, href).capped_at(10_000);
        assert_eq!(numbers(&p), [1, 2, 3, 4, 5], "no last page when the count stopped");
    }

    #[test]
    fn errors_of_fields_a_form_does_not_show_go_above_it() {
        let fields =
            [FieldError::new("name", "err.required"), FieldError::new("outlet", "err.propose_outlet")];
        let errors = FieldErrors::from_fields(Lang::Zh, &fields).on_form(&["name", "mobile"]);
        assert!(errors.has("name") && !errors.has("outlet"));
        assert_eq!(errors.form(), [translate(Lang::Zh, "err.propose_outlet", &[])]);
    }

    #[test]
    fn money_groups_thousands_with_two_decimals() {
        assert_eq!(money(0), "¥0.00");
        assert_eq!(money(5), "¥0.05");
        assert_eq!(money(123_456_789), "¥1,234,567.89");
        assert_eq!(money(100_000), "¥1,000.00");
        assert_eq!(money(-1200), "-¥12.00");
    }

    #[test]
    fn minute_is_china_time() {
        // 2026-01-01T00:00:00Z is 08:00 in China.
        assert_eq!(minute(1_767_225_600_000_000), "2026-01-01 08:00");
    }
}
