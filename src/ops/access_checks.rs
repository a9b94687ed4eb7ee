//! The access check: the call the product makes at every learner login. It answers from the
//! same rule as console sign-in (`domain::access::product_access`), sees only the users beneath
//! the asking key (others are "unknown"), and reads once, writing nothing.

use super::{Caller, OpResult, Ops};
use crate::db::users;
use crate::domain::access::{ProductAccess, product_access};
use crate::domain::{CompanyId, Email};

/// The answer, and the user's company when the user is known.
#[derive(Clone, Debug)]
pub struct AccessAnswer {
    pub access: ProductAccess,
    pub company: Option<(CompanyId, String)>,
}

/// May the user with `email` use the product now? A user the caller may not see is unknown.
pub async fn check(ops: &Ops, caller: &Caller, email: &Email) -> OpResult<AccessAnswer> {
    let now = ops.now();
    let Some(user) = users::product_user(&ops.db, &caller.scope(), email).await? else {
        return Ok(AccessAnswer {
            access: ProductAccess::UNKNOWN,
            company: None,
        });
    };
    Ok(AccessAnswer {
        access: product_access(&user.facts, &user.company_facts, now),
        company: Some((user.company, user.company_name)),
    })
}
