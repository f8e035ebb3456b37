//! Suspicious customer information (可疑客户信息, R-ETL-4): the same mobile/phone number or the
//! same bank account under two or more different customers. An item is listed the day after
//! the load (T+1), is due 3 working days later, and is closed by its investigator as genuine
//! (真实, e.g. a family sharing a phone), corrected (已更正) or escalated (上报) to the
//! department head; an item still open after its due date is escalated for being overdue.

use std::collections::HashMap;

use time::Date;

use crate::audit_action::AuditAction;
use crate::error::FieldError;
use crate::role::Action;
use crate::workflow::{Comment, State, Step, Taker, Workflow};

/// A note longer than this is refused rather than cut.
pub const NOTE_MAX_CHARS: usize = 500;

crate::coded! {
    /// What two customers share.
    pub enum SuspectKind {
        /// A mobile or fixed-line number (one blind-index domain, so a mobile equal to another
        /// customer's fixed line counts).
        Contact,
        /// A settlement account or an account held.
        Account,
    }
}

crate::coded! {
    pub enum SuspectStatus {
        Open,
        /// With the department head, who closes it as genuine or corrected.
        Escalated,
        Genuine,
        Corrected,
    }
}

impl State for SuspectStatus {}

impl SuspectStatus {
    /// Still waiting for someone's work.
    pub fn is_pending(self) -> bool {
        SUSPECT_FLOW.is_pending(self)
    }
}

/// An item is closed by its investigator as genuine (真实) or corrected (已更正), or
/// escalated (上报) to the department head, who closes it; the nightly job escalates one
/// still open after its due date. A closed item stays closed.
pub static SUSPECT_FLOW: Workflow<SuspectStatus> = {
    use SuspectStatus::*;
    const INVESTIGATOR: Taker = Taker::Holder(Action::SuspectResolve);
    Workflow {
        name: "suspect",
        states: &[Open, Escalated, Genuine, Corrected],
        pending: &[Open, Escalated],
        steps: &[
            Step {
                code: "genuine",
                from: &[Open, Escalated],
                to: Genuine,
                taker: INVESTIGATOR,
                comment: Comment::Required,
                audit: AuditAction::SuspectResolve,
                confirm: false,
            },
            Step {
                code: "corrected",
                from: &[Open, Escalated],
                to: Corrected,
                taker: INVESTIGATOR,
                comment: Comment::Required,
                audit: AuditAction::SuspectResolve,
                confirm: false,
            },
            Step {
                code: "escalated",
                from: &[Open],
                to: Escalated,
                taker: INVESTIGATOR,
                comment: Comment::Required,
                audit: AuditAction::SuspectResolve,
                confirm: false,
            },
            Step {
                code: "overdue",
                from: &[Open],
                to: Escalated,
                taker: Taker::System,
                comment: Comment::Optional,
                audit: AuditAction::SuspectBuild,
                confirm: false,
            },
        ],
        finished: "err.suspect_closed",
        // An outlet closes an item within 3 working days (3 个工作日).
        due_in_working_days: 3,
    }
};

/// An investigator's note: required, at most [`NOTE_MAX_CHARS`].
pub fn check_note(note: &str) -> Result<String, FieldError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(FieldError::new("note", "err.note_required"));
    }
    if note.chars().count() > NOTE_MAX_CHARS {
        return Err(FieldError::new("note", "err.note_too_long"));
    }
    Ok(note.to_owned())
}

/// Monday to Friday, except the days the calendar says otherwise (public holidays off,
/// exchanged weekend days on).
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    exceptions: HashMap<Date, bool>,
}

impl WorkCalendar {
    pub fn new(exceptions: impl IntoIterator<Item = (Date, bool)>) -> Self {
        Self { exceptions: exceptions.into_iter().collect() }
    }

    pub fn is_working(&self, day: Date) -> bool {
        self.exceptions.get(&day).copied().unwrap_or(day.weekday().number_days_from_monday() < 5)
    }

    /// The `n`th working day after `from` (`from` itself not counted).
    pub fn add_working_days(&self, from: Date, n: u32) -> Date {
        let mut day = from;
        let mut left = n;
        while left > 0 {
            day = day.next_day().expect("a date within the calendar's range");
            if self.is_working(day) {
                left -= 1;
            }
        }
        day
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn three_working_days_skip_weekends_and_holidays() {
        let plain = WorkCalendar::default();
        // Monday → Thursday; Thursday → the next Tuesday; Saturday → Wednesday.
        assert_eq!(plain.add_working_days(date!(2026 - 11 - 23), 3), date!(2026 - 11 - 26));
        assert_eq!(plain.add_working_days(date!(2026 - 11 - 26), 3), date!(2026 - 12 - 01));
        assert_eq!(plain.add_working_days(date!(2026 - 11 - 28), 3), date!(2026 - 12 - 02));
        // National Day week off, Saturday 10 October worked in exchange.
        let mut days: Vec<(Date, bool)> = (1..=7)
            .map(|d| (Date::from_calendar_date(2026, time::Month::October, d).unwrap(), false))
            .collect();
        days.push((date!(2026 - 10 - 10), true));
        let cal = WorkCalendar::new(days);
        assert_eq!(cal.add_working_days(date!(2026 - 09 - 30), 3), date!(2026 - 10 - 10));
        assert_eq!(cal.add_working_days(date!(2026 - 10 - 08), 3), date!(2026 - 10 - 12));
    }

    #[test]
    fn outcomes_follow_the_item_state() {
        use SuspectStatus::*;
        let close = |from: SuspectStatus, outcome: SuspectStatus| {
            SUSPECT_FLOW.take(outcome.code(), from, "outcome").map(|step| step.to)
        };
        assert_eq!(close(Open, Genuine).unwrap(), Genuine);
        assert_eq!(close(Open, Escalated).unwrap(), Escalated);
        assert_eq!(close(Escalated, Corrected).unwrap(), Corrected);
        assert!(close(Escalated, Escalated).is_err());
        assert!(close(Open, Open).is_err());
        assert!(matches!(close(Genuine, Corrected), Err(crate::DomainError::Conflict(_))));
    }

    #[test]
    fn the_suspect_flow_is_well_formed_and_takes_only_its_steps() {
        crate::workflow::assert_well_formed(&SUSPECT_FLOW);
        crate::workflow::assert_transitions(&SUSPECT_FLOW);
        assert_eq!(SUSPECT_FLOW.step("overdue").unwrap().taker, Taker::System, "only the nightly job");
    }

    #[test]
    fn a_note_is_required_and_bounded() {
        assert_eq!(check_note("  家庭共用电话  ").unwrap(), "家庭共用电话");
        assert_eq!(check_note(" ").unwrap_err().rule, "err.note_required");
        assert_eq!(check_note(&"字".repeat(501)).unwrap_err().rule, "err.note_too_long");
    }
}
