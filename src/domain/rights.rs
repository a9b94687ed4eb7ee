//! Who may do what (DESIGN §10). The console hides buttons a caller may not use, but this is the
//! rule: every operation asks `permits` before it changes anything.

use super::access::Role;

/// The kinds of action the roles table distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See companies, orders and activity beneath the partner (or of one's own company).
    View,
    /// Run a company: manage mode, Upgrade to Premium and licence requests, allocate, renew,
    /// release, and the company's users.
    RunCompany,
    /// Create or edit companies, assign or reject orders.
    AdministerCompanies,
    /// Create sub-partners, partner API keys and webhook endpoints; set the partner's time zone.
    AdministerPartner,
    /// Create and revoke API keys of one's own company.
    CompanyKeys,
    /// Create distributors and their admins, and instance API keys.
    AdministerInstance,
}

/// Whether `role` may take `action`. `managed` says the company acted on is run by its partner
/// (an active Managed batch): its managers keep a read-only view.
pub fn permits(role: Role, action: Action, managed: bool) -> bool {
    match role {
        Role::Operator => action == Action::AdministerInstance,
        Role::Partner { admin, .. } => match action {
            Action::View | Action::RunCompany => true,
            Action::AdministerCompanies | Action::AdministerPartner => admin,
            Action::CompanyKeys | Action::AdministerInstance => false,
        },
        Role::Company { manager, .. } => match action {
            Action::View => manager,
            // Keys act without a person: on a Managed company only the partner acts.
            Action::RunCompany | Action::CompanyKeys => manager && !managed,
            Action::AdministerCompanies
            | Action::AdministerPartner
            | Action::AdministerInstance => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::*;
    use crate::domain::{CompanyId, PartnerId};

    const ADMIN: Role = Role::Partner {
        partner: PartnerId(1),
        admin: true,
    };
    const ACCOUNT_MANAGER: Role = Role::Partner {
        partner: PartnerId(1),
        admin: false,
    };
    const MANAGER: Role = Role::Company {
        company: CompanyId(1),
        manager: true,
        learner: false,
    };
    const LEARNER: Role = Role::Company {
        company: CompanyId(1),
        manager: false,
        learner: true,
    };

    /// DESIGN §10, row by row: (action, admin, account manager, company manager, operator).
    const TABLE: [(Action, bool, bool, bool, bool); 6] = [
        (View, true, true, true, false),
        (RunCompany, true, true, true, false),
        (AdministerCompanies, true, false, false, false),
        (AdministerPartner, true, false, false, false),
        (CompanyKeys, false, false, true, false),
        (AdministerInstance, false, false, false, true),
    ];

    #[test]
    fn each_role_may_do_what_the_roles_table_says() {
        for (action, admin, account_manager, manager, operator) in TABLE {
            assert_eq!(permits(ADMIN, action, false), admin, "{action:?}");
            assert_eq!(
                permits(ACCOUNT_MANAGER, action, false),
                account_manager,
                "{action:?}"
            );
            assert_eq!(permits(MANAGER, action, false), manager, "{action:?}");
            assert_eq!(
                permits(Role::Operator, action, false),
                operator,
                "{action:?}"
            );
            assert!(!permits(LEARNER, action, false), "{action:?}");
        }
    }

    #[test]
    fn managers_of_a_managed_company_only_look_while_partners_run_it() {
        assert!(permits(MANAGER, View, true));
        assert!(!permits(MANAGER, RunCompany, true));
        assert!(!permits(MANAGER, CompanyKeys, true));
        assert!(permits(ACCOUNT_MANAGER, RunCompany, true));
        assert!(permits(ADMIN, RunCompany, true));
    }
}
