//! Change proposals (变更申请, R-CUS-7): adding, modifying or deleting a customer's
//! information goes through a maker (the proposer) and a checker (the outlet's supervisor or
//! above). The change is applied only on approval; rejecting or withdrawing leaves the
//! customer exactly as it was. At most one proposal is pending per customer.

use crate::audit_action::AuditAction;
use crate::role::Action;
use crate::workflow::{Comment, State, Step, Taker, Workflow};

crate::coded! {
    pub enum ProposalStatus {
        Pending,
        Approved,
        Rejected,
        /// Taken back by its proposer before anyone decided it.
        Withdrawn,
    }
}

impl State for ProposalStatus {}

pub static PROPOSAL_FLOW: Workflow<ProposalStatus> = {
    use ProposalStatus::*;
    Workflow {
        name: "proposal",
        states: &[Pending, Approved, Rejected, Withdrawn],
        pending: &[Pending],
        steps: &[
            Step {
                code: "approve",
                from: &[Pending],
                to: Approved,
                taker: Taker::Checker(Action::CustomerApprove),
                comment: Comment::Optional,
                audit: AuditAction::CustomerApprove,
                confirm: true,
            },
            Step {
                code: "reject",
                from: &[Pending],
                to: Rejected,
                taker: Taker::Checker(Action::CustomerApprove),
                comment: Comment::Required,
                audit: AuditAction::CustomerReject,
                confirm: true,
            },
            Step {
                code: "withdraw",
                from: &[Pending],
                to: Withdrawn,
                taker: Taker::Maker,
                comment: Comment::Optional,
                audit: AuditAction::CustomerWithdraw,
                confirm: true,
            },
        ],
        finished: "err.proposal_decided",
        // The supervisor reviews within two working days; later, it is marked overdue on the
        // workbench of everyone who may decide it.
        due_in_working_days: 2,
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{assert_transitions, assert_well_formed};

    #[test]
    fn the_proposal_flow_is_well_formed_and_takes_only_its_steps() {
        assert_well_formed(&PROPOSAL_FLOW);
        assert_transitions(&PROPOSAL_FLOW);
    }
}
