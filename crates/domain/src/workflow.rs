//! The workflow kit (流程): one way to declare a state machine of a request that people move
//! along — its states, the steps between them, who may take each step and what the audit
//! record calls it — used by change proposals and suspicious items now, and by every
//! application, complaint, assignment and list-data request after them.
//!
//! Invariants kept here (pure, no I/O): a step is taken only from a state it leaves; a final
//! state is left by nothing. Who may take a step is the policy's to say
//! (`Policy::authorize_step`: the maker of a request never takes a checker's step on it).
//! Storage keeps the rest: the step is one guarded update (`WHERE status = from AND version =
//! v`), so of two concurrent decisions exactly one wins, and at most one request of a kind is
//! pending per object.

use crate::audit_action::AuditAction;
use crate::error::DomainError;
use crate::role::Action;

/// A workflow's states: a code enum (`strum`) that says which are still waiting for someone.
pub trait State: Copy + Eq + std::fmt::Debug + Into<&'static str> + std::str::FromStr + 'static {
    fn code(self) -> &'static str {
        self.into()
    }

    fn parse(code: &str) -> Option<Self> {
        code.parse().ok()
    }
}

/// Who may take a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taker {
    /// Someone who holds the action over the request's object, and is not its maker
    /// (maker-checker, R-USR-4).
    Checker(Action),
    /// Someone who holds the action over the request's object (an investigator).
    Holder(Action),
    /// Only the person who made the request (withdrawing it).
    Maker,
    /// Only the system (the nightly job: escalation of what waited too long).
    System,
}

/// A comment with the step: required (a rejection says why) or optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comment {
    Required,
    Optional,
}

/// One step of a workflow.
#[derive(Debug)]
pub struct Step<S: 'static> {
    /// What forms and the API call it (`approve`, `reject`, `withdraw`, `genuine`…).
    pub code: &'static str,
    pub from: &'static [S],
    pub to: S,
    pub taker: Taker,
    pub comment: Comment,
    /// The audit record of the step.
    pub audit: AuditAction,
    /// Irreversible or weighty: the UI asks for confirmation in plain words first.
    pub confirm: bool,
}

/// A state machine, declared once as a `static`.
#[derive(Debug)]
pub struct Workflow<S: 'static> {
    /// The i18n group of its states and steps (`workflow.proposal.state.pending`).
    pub name: &'static str,
    /// Every state, in the order of the step bar (the usual path first).
    pub states: &'static [S],
    /// The states that still wait for someone; a request in one of them is pending.
    pub pending: &'static [S],
    pub steps: &'static [Step<S>],
    /// Why a step on a request that is already finished is refused (409).
    pub finished: &'static str,
    /// How many working days a request may wait; the nightly job marks one still pending
    /// after that overdue (and, with an `overdue` step, moves it on: escalates it).
    pub due_in_working_days: u32,
}

impl<S: State> Workflow<S> {
    pub fn step(&self, code: &str) -> Option<&'static Step<S>> {
        self.steps.iter().find(|s| s.code == code)
    }

    pub fn is_pending(&self, state: S) -> bool {
        self.pending.contains(&state)
    }

    /// The steps that leave `state`, in declaration order.
    pub fn steps_from(&self, state: S) -> impl Iterator<Item = &'static Step<S>> + '_ {
        self.steps.iter().filter(move |s| s.from.contains(&state))
    }

    /// The step `code` from `state`, or the rule that refuses it: an unknown step or one that
    /// does not leave this state is bad input on `field` (422); any step on a finished
    /// request is a conflict (409), since someone else has already finished it.
    pub fn take(&self, code: &str, state: S, field: &'static str) -> Result<&'static Step<S>, DomainError> {
        let step = self.step(code).ok_or(DomainError::invalid(field, "err.step_unknown"))?;
        if self.steps_from(state).next().is_none() {
            return Err(DomainError::Conflict(self.finished));
        }
        if !step.from.contains(&state) {
            return Err(DomainError::invalid(field, "err.step_not_now"));
        }
        Ok(step)
    }
}

/// Tests any workflow declaration: every state is reachable from the first or is it,
/// every pending state can be left and every other cannot, every step's comment rule and
/// taker are consistent. Each workflow's own tests call it.
#[cfg(test)]
pub(crate) fn assert_well_formed<S: State>(w: &Workflow<S>) {
    for s in w.states {
        assert_eq!(S::parse(s.code()), Some(*s), "{}: {s:?} reads back", w.name);
        assert_eq!(
            w.steps_from(*s).next().is_some(),
            w.is_pending(*s),
            "{}: {s:?} pending iff it can be left",
            w.name
        );
    }
    for step in w.steps {
        assert!(!step.from.is_empty(), "{}.{} leaves some state", w.name, step.code);
        assert!(w.states.contains(&step.to));
        assert_eq!(
            w.steps.iter().filter(|s| s.code == step.code).count(),
            1,
            "{}.{} declared once",
            w.name,
            step.code
        );
    }
}

/// Every (step, state) pair: taken where declared, refused (with the right kind of error)
/// everywhere else.
#[cfg(test)]
pub(crate) fn assert_transitions<S: State>(w: &Workflow<S>) {
    for step in w.steps {
        for s in w.states {
            let r = w.take(step.code, *s, "step");
            match r {
                Ok(taken) => {
                    assert!(step.from.contains(s), "{}.{} from {s:?}", w.name, step.code);
                    assert_eq!(taken.to, step.to);
                }
                Err(DomainError::Conflict(k)) => {
                    assert!(!w.is_pending(*s) && k == w.finished, "{}.{} from {s:?}", w.name, step.code);
                }
                Err(DomainError::Invalid(f)) => {
                    assert!(
                        w.is_pending(*s) && !step.from.contains(s),
                        "{}.{} from {s:?}",
                        w.name,
                        step.code
                    );
                    assert_eq!(f[0].rule, "err.step_not_now");
                }
                Err(other) => panic!("{}.{} from {s:?}: {other:?}", w.name, step.code),
            }
        }
    }
    assert!(matches!(w.take("no_such_step", w.states[0], "step"), Err(DomainError::Invalid(_))));
}
