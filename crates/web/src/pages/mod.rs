//! The browser UI. Each handler parses the form, calls one service and renders a page;
//! a field error re-renders the form with the input kept and the message beside the field.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::{CookieJar, Form};
use pcis_domain::DomainError;
use pcis_domain::audit::Outcome;
use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::CustomerField;
use pcis_domain::institution::{InstKind, InstStatus, Institution, InstitutionId, InstitutionInput, Level};
use pcis_domain::role::{Action, Role};
use pcis_domain::user::{User, UserId, UserInput, UserStatus};
use serde::Deserialize;

use crate::error::{PageError, PagePath, PageQuery};
use crate::inputs::{AccountInput, AuditQuery, RolesInput, StatusInput, UsersQuery};
use crate::listing::{Heading, ListLinks};
use crate::security::{Auth, Meta, PRE_SESSION_COOKIE, Req, SESSION_COOKIE};
use crate::stepbar::StepBar;
use crate::views::{Choice, Ctx, FieldErrors, InputField, Pager, filters, form_errors, render};
use crate::{AppState, Lang};
use pcis_service::{AuditSort, SuspectSort, UserSort};

mod audit;
mod credit;
mod customers;
mod home;
mod imports;
mod institutions;
mod parameters;
mod proposals;
mod roles;
mod session;
mod suspects;
mod users;

/// Every page's routes, each area's from its own module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .merge(home::routes())
        .merge(institutions::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(roles::routes())
        .merge(customers::routes())
        .merge(proposals::routes())
        .merge(credit::routes())
        .merge(imports::routes())
        .merge(suspects::routes())
        .merge(parameters::routes())
}

type PageResult = Result<Response, PageError>;

fn ctx(st: &AppState, lang: Lang, auth: &Auth, path: &str) -> Ctx {
    let mut ctx = Ctx::for_actor(lang, &auth.session.csrf_token, path, &auth.session.actor, &st.app.policy);
    if auth.session.must_change_password {
        // Nothing else is open until the password is changed; don't offer it.
        ctx.nav.clear();
    }
    ctx
}

fn t(lang: Lang, key: &str) -> String {
    crate::translate(lang, key, &[])
}

/// A customer field's value as staff read it: coded ones (gender, document type) by their
/// names, the rest as stored (already masked).
fn customer_value(lang: Lang, field: &str, value: &str) -> String {
    match CustomerField::parse(field).and_then(CustomerField::coded) {
        Some(group) => label(lang, group, value),
        None => value.to_owned(),
    }
}

/// The name of a coded value (`group.code`) in the user's language; the code itself if it
/// has none (e.g. a product type the core system added before the texts were).
fn label(lang: Lang, group: &str, code: &str) -> String {
    let key = format!("{group}.{code}");
    let text = t(lang, &key);
    if text == key { code.to_owned() } else { text }
}
