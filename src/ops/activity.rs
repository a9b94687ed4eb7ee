//! The Activity log as people read it: every change beneath a partner (or of one company), who
//! made it and for which company, newest first.

use super::{Caller, Error, OpResult, Ops};
use crate::db::Scope;
use crate::db::activity::{self, ActivityFilter, ActivityOf, ActivityRow};
use crate::db::keyset::{KeysetPage, Seek};
use crate::domain::Action;

/// One page of the entries the caller may see matching `filter`, from `seek`, newest first
/// unless `descending` is false.
pub async fn list(
    ops: &Ops,
    caller: &Caller,
    filter: ActivityFilter,
    (descending, seek): (bool, &Seek),
    limit: u32,
) -> OpResult<KeysetPage<ActivityRow>> {
    let of = whose(ops, caller)?;
    Ok(activity::page(&ops.db, of, filter, descending, seek, limit).await?)
}

/// How many entries the caller may see `filter` keeps: the N of "1–50 of N".
pub async fn count(ops: &Ops, caller: &Caller, filter: ActivityFilter) -> OpResult<i64> {
    let of = whose(ops, caller)?;
    Ok(activity::count(&ops.db, of, filter).await?)
}

/// Whose entries the caller may read.
fn whose(ops: &Ops, caller: &Caller) -> OpResult<ActivityOf> {
    caller.require(Action::View, None, ops.now())?;
    match caller.scope() {
        Scope::Partner(partner) => Ok(ActivityOf::Partner(partner)),
        Scope::Company(company) => Ok(ActivityOf::Company(company)),
        Scope::Operator => Err(Error::NotFound),
    }
}
