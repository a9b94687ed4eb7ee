//! Accounts: signing in and out, setting a password from a link, and asking for a reset link.

use jiff::Timestamp;

use super::{Error, OpResult, Ops, notify};
use crate::db::{passwords, sessions, users};
use crate::domain::access::{self, Landing, SignInDecision, SignInRefusal};
use crate::domain::{Email, Password, UserId};
use crate::password;

/// Why a sign-in did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInFailure {
    /// Unknown email or wrong password: the same answer, so neither is revealed.
    Incorrect,
    /// Too many wrong passwords: locked until then.
    Locked { until: Timestamp },
    /// The password was right but the access rules refuse (the time zone is the company's, for
    /// showing the date).
    Refused {
        refusal: SignInRefusal,
        time_zone: String,
    },
}

/// A started session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The cookie's token; only its hash is stored.
    pub token: String,
    pub landing: Landing,
}

/// Signs in with an email and a password: three wrong passwords in a row lock the account for
/// 10 minutes, and an unknown email costs as much time as a known one.
#[tracing::instrument(skip_all)]
pub async fn sign_in(ops: &Ops, email: &str, password: &str) -> OpResult<Session> {
    let now = ops.now();
    let user = match Email::parse(email) {
        Ok(email) => users::access_by_email(&ops.db, &email).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        password::verify_blocking(password.to_owned(), None).await;
        return Err(Error::SignIn(SignInFailure::Incorrect));
    };
    let attempt = match users::reserve_sign_in(&ops.db, user.id, now).await? {
        users::Attempt::Locked(until) => {
            return Err(Error::SignIn(SignInFailure::Locked { until }));
        }
        users::Attempt::Allowed(attempt) => attempt,
    };
    if !password::verify_blocking(password.to_owned(), user.password_hash.clone()).await {
        tracing::info!(user = %user.id, "failed sign-in");
        return Err(Error::SignIn(
            match users::failed_sign_in(&ops.db, user.id, attempt, now).await? {
                Some(until) => SignInFailure::Locked { until },
                None => SignInFailure::Incorrect,
            },
        ));
    }
    users::clear_failures(&ops.db, user.id).await?;
    let company = user.company.as_ref();
    match access::sign_in(&user.facts, company.map(|c| &c.facts), now) {
        SignInDecision::Refused(refusal) => Err(Error::SignIn(SignInFailure::Refused {
            refusal,
            time_zone: company.map_or("UTC".to_owned(), |c| c.time_zone.clone()),
        })),
        SignInDecision::Allowed { landing, .. } => Ok(Session {
            token: sessions::create(&ops.db, user.id, now).await?,
            landing,
        }),
    }
}

/// Ends the session behind `token`.
pub async fn sign_out(ops: &Ops, token: &str) -> OpResult<()> {
    Ok(sessions::revoke(&ops.db, token).await?)
}

/// Whether a set-password link works now (to show its form).
pub async fn check_link(ops: &Ops, token: &str) -> OpResult<UserId> {
    Ok(passwords::check(&ops.db, token, ops.now()).await?)
}

/// Sets a password from a welcome or reset link, once. The link is checked before the slow hash,
/// so a bad link costs nothing; a new password ends every session and every other link.
#[tracing::instrument(skip_all)]
pub async fn set_password(ops: &Ops, token: &str, password: &Password) -> OpResult<UserId> {
    check_link(ops, token).await?;
    let hash = password::hash_blocking(password.expose().to_owned()).await;
    Ok(passwords::redeem(&ops.db, token, &hash, ops.now()).await?)
}

/// Forgot password: emails a reset link to the active user with `email`, at most once per 30
/// minutes. The caller learns nothing about whether the account exists.
#[tracing::instrument(skip_all)]
pub async fn request_reset(ops: &Ops, email: &Email) -> OpResult<()> {
    let now = ops.now();
    let mut tx = ops.db.begin_write().await?;
    let Some(user) = passwords::active_user_by_email(&mut tx, ops.db.for_update(), email).await?
    else {
        return Ok(());
    };
    if !access::may_send_reset(passwords::last_reset(&mut tx, user).await?, now) {
        return Ok(());
    }
    notify::password_reset(&mut tx, &ops.links, user, email, now).await?;
    tx.commit().await?;
    Ok(())
}
