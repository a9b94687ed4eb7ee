//! The Activity log as people read it: every change beneath a partner (or of one company), who
//! made it and for which company, newest first.

use super::{Caller, Error, OpResult, Ops};
use crate::db::activity::{self, ActivityFilter, ActivityOf, ActivityRow};
use crate::db::{Page, Scope};
use crate::domain::Action;

/// The entries the caller may see matching `filter`, newest first, one page before `before`.
pub async fn list(
    ops: &Ops,
    caller: &Caller,
    filter: ActivityFilter,
    before: Option<i64>,
    limit: u32,
) -> OpResult<Page<ActivityRow, i64>> {
    caller.require(Action::View, None, ops.now())?;
    let of = match caller.scope() {
        Scope::Partner(partner) => ActivityOf::Partner(partner),
        Scope::Company(company) => ActivityOf::Company(company),
        Scope::Operator => return Err(Error::NotFound),
    };
    Ok(activity::list(&ops.db, of, filter, before, limit).await?)
}
