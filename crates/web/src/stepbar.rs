//! The step bar (流程进度条): one partial shows any workflow's request — where it is on its
//! way, and only the steps this viewer may take now, each asking for confirmation in plain
//! words when it cannot be undone. Which steps the viewer may take is the policy's answer,
//! passed in; the service asks it again when a step is posted.

use pcis_domain::workflow::{Comment, State, Step, Workflow};

use crate::i18n::{Lang, translate};

/// A request's place on its way, as `stepbar.html` renders it.
pub struct StepBar {
    pub marks: Vec<Mark>,
    pub actions: Vec<StepAction>,
    /// The form's target: the steps post `step` and `comment` here.
    pub action_url: String,
    pub comment_required: bool,
}

pub struct Mark {
    pub label: String,
    /// `done`, `current` or `todo`.
    pub class: &'static str,
}

pub struct StepAction {
    pub code: &'static str,
    pub label: String,
    /// `primary`, `danger` or `` (a plain button).
    pub class: &'static str,
    /// What the confirmation says, when the step asks for one.
    pub confirm: Option<String>,
}

impl StepBar {
    /// The bar of a request of `flow` now in `state`. `may_take` says whether this viewer
    /// may take a step (the policy's answer); steps that do not leave `state` never show.
    pub fn new<S: State>(
        lang: Lang,
        flow: &Workflow<S>,
        state: S,
        action_url: String,
        may_take: impl Fn(&Step<S>) -> bool,
    ) -> StepBar {
        let t = |key: String| translate(lang, &key, &[]);
        let state_label = |s: S| t(format!("workflow.{}.state.{}", flow.name, s.code()));
        // Made, the waiting states up to the current one, then where it ended or "done" ahead.
        let position = flow.pending.iter().position(|s| *s == state);
        let made = Mark { label: t(format!("workflow.{}.made", flow.name)), class: "done" };
        let mut marks: Vec<Mark> = std::iter::once(made).collect();
        marks.extend(flow.pending.iter().enumerate().filter(|(i, _)| position.is_none_or(|p| *i <= p)).map(
            |(i, s)| Mark {
                label: state_label(*s),
                class: if Some(i) == position { "current" } else { "done" },
            },
        ));
        marks.push(match position {
            Some(_) => Mark { label: t("workflow.done".into()), class: "todo" },
            None => Mark { label: state_label(state), class: "current" },
        });
        let steps: Vec<&Step<S>> = flow.steps_from(state).filter(|s| may_take(s)).collect();
        let actions = steps
            .iter()
            .map(|s| StepAction {
                code: s.code,
                label: t(format!("workflow.{}.step.{}", flow.name, s.code)),
                class: step_class(s.code),
                confirm: s.confirm.then(|| t(format!("workflow.{}.confirm.{}", flow.name, s.code))),
            })
            .collect();
        let comment_required = steps.iter().any(|s| s.comment == Comment::Required);
        StepBar { marks, actions, action_url, comment_required }
    }
}

/// Refusing steps look like refusals; the first positive one is the primary button.
fn step_class(code: &str) -> &'static str {
    match code {
        "reject" | "withdraw" | "escalated" => "danger",
        "approve" | "genuine" => "primary",
        _ => "",
    }
}
