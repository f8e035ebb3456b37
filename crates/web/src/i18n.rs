//! The user's language: Simplified Chinese by default, English by choice (cookie `lang`).
//! Texts live in `locales/*.yml`; code refers to them by key only.

use axum_extra::extract::CookieJar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Joins the items of an enumeration in the language's way (甲、乙 / a, b).
    pub fn list(self, items: &[String]) -> String {
        items.join(if self == Lang::Zh { "、" } else { ", " })
    }

    pub fn from_cookies(jar: &CookieJar) -> Lang {
        jar.get("lang").and_then(|c| Lang::parse(c.value())).unwrap_or_default()
    }
}

/// The text for `key`, with `%{name}` placeholders filled from `args`.
pub fn translate(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut text = rust_i18n::t!(key, locale = lang.code()).into_owned();
    for (name, value) in args {
        text = text.replace(&format!("%{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_texts() {
        assert_eq!(translate(Lang::Zh, "login.title", &[]), "登录");
        assert_eq!(translate(Lang::En, "login.title", &[]), "Log in");
        assert_eq!(translate(Lang::En, "app.total", &[("n", "3")]), "3 in total");
        assert_eq!(translate(Lang::Zh, "level.5", &[]), "网点");
    }

    #[test]
    fn every_role_has_a_name_and_duties_in_both_languages() {
        for role in pcis_domain::role::Role::ALL {
            for lang in [Lang::Zh, Lang::En] {
                for key in [format!("role.{}", role.code()), format!("role_desc.{}", role.code())] {
                    assert_ne!(translate(lang, &key, &[]), key);
                }
            }
        }
    }

    #[test]
    fn every_policy_action_has_a_label() {
        for action in pcis_domain::role::Action::ALL {
            for lang in [Lang::Zh, Lang::En] {
                let key = format!("action.{}", action.code());
                assert_ne!(translate(lang, &key, &[]), key);
            }
        }
    }

    #[test]
    fn every_audited_action_has_a_label() {
        for action in pcis_domain::audit_action::AuditAction::all() {
            for lang in [Lang::Zh, Lang::En] {
                let key = action.label_key();
                assert_ne!(translate(lang, &key, &[]), key);
            }
        }
    }

    /// Every `ctx.t("…")` a template asks for has a text in both languages.
    #[test]
    fn every_template_key_is_translated() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("ctx.t(\"").skip(1) {
                let key = &part[..part.find('"').unwrap()];
                for lang in [Lang::Zh, Lang::En] {
                    assert_ne!(
                        translate(lang, key, &[]),
                        key,
                        "{}: {key} has no {} text",
                        path.display(),
                        lang.code()
                    );
                }
            }
        }
    }

    /// The step bar's words for every declared workflow.
    #[test]
    fn every_workflow_state_and_step_has_a_label() {
        fn keys<S: pcis_domain::workflow::State>(w: &pcis_domain::workflow::Workflow<S>) -> Vec<String> {
            let mut keys = vec![format!("workflow.{}.made", w.name)];
            keys.extend(w.states.iter().map(|s| format!("workflow.{}.state.{}", w.name, s.code())));
            for step in w.steps {
                keys.push(format!("workflow.{}.step.{}", w.name, step.code));
                if step.confirm {
                    keys.push(format!("workflow.{}.confirm.{}", w.name, step.code));
                }
            }
            keys
        }
        let all = [keys(&pcis_domain::proposal::PROPOSAL_FLOW), keys(&pcis_domain::suspect::SUSPECT_FLOW)];
        for key in all.iter().flatten() {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(translate(lang, key, &[]), *key);
            }
        }
    }

    #[test]
    fn every_domain_message_key_is_translated() {
        // Keys used by the domain and the service layer as rules and reasons.
        let src = [
            include_str!("../../domain/src/institution.rs"),
            include_str!("../../domain/src/identity.rs"),
            include_str!("../../domain/src/user.rs"),
            include_str!("../../domain/src/password.rs"),
            include_str!("../../domain/src/policy.rs"),
            include_str!("../../service/src/auth.rs"),
            include_str!("../../service/src/institutions.rs"),
            include_str!("../../service/src/users.rs"),
            include_str!("../../domain/src/customer.rs"),
            include_str!("../../domain/src/tier.rs"),
            include_str!("../../service/src/customers.rs"),
            include_str!("../../service/src/proposals.rs"),
            include_str!("../../service/src/import/mod.rs"),
            include_str!("../../service/src/import/format.rs"),
            include_str!("../../service/src/import/rows.rs"),
            include_str!("../../service/src/import/write.rs"),
            include_str!("../../service/src/suspects.rs"),
            include_str!("../../service/src/parameters.rs"),
            include_str!("../../domain/src/workflow.rs"),
            include_str!("../../domain/src/proposal.rs"),
            include_str!("../../domain/src/suspect.rs"),
            include_str!("../../service/src/use_case.rs"),
            include_str!("../../service/src/lib.rs"),
            include_str!("../../domain/src/error.rs"),
            include_str!("error.rs"),
        ];
        for text in src {
            for part in text.split('"').skip(1).step_by(2) {
                let keyed = ["err.", "deny.", "basis.", "band.", "tier."].iter().any(|p| part.starts_with(p));
                if keyed && !part.ends_with('.') && !part.contains(' ') {
                    for lang in [Lang::Zh, Lang::En] {
                        let t = translate(lang, part, &[]);
                        assert_ne!(t, part, "{part} has no {} text", lang.code());
                    }
                }
            }
        }
    }
}
