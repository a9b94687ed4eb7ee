//! Accounts: signing in and out, setting a password from a link, and asking for a reset link.

use jiff::Timestamp;

use super::audit::{self, SecurityEntry};
use super::{Error, OpResult, Ops, notify};
use crate::db::limits::{self, Attempt};
use crate::db::users::UserAccess;
use crate::db::{passwords, sessions, users};
use crate::domain::access::{
    self, Landing, RESET_PER_ADDRESS, RateLimit, SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_ADDRESS,
    SignInDecision, SignInRefusal,
};
use crate::domain::{Email, Password, UserId};

/// Why a sign-in did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInFailure {
    /// Unknown email, wrong password, or an account locked for this client address: one
    /// answer, so none is revealed. The owner of a locked account learns of it by email.
    Incorrect,
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

/// Counts `n` requests under `key`; refuses them when `limit` is spent for this window.
pub(crate) async fn rate_limit_n(
    ops: &Ops,
    key: &str,
    n: i64,
    limit: RateLimit,
    now: Timestamp,
) -> OpResult<()> {
    if limits::hit(&ops.db, key, n, limit, now).await? {
        return Ok(());
    }
    tracing::warn!(
        security_event = "rate_limited",
        key,
        "request refused: rate limit spent"
    );
    Err(Error::RateLimited {
        retry_after: limit.retry_at(now).duration_since(now),
    })
}

/// Counts one request under `key`; refuses it when `limit` is spent for this window.
async fn rate_limit(ops: &Ops, key: &str, limit: RateLimit, now: Timestamp) -> OpResult<()> {
    rate_limit_n(ops, key, 1, limit, now).await
}

/// Signs in with an email and a password from the client at `address`. Three wrong passwords
/// in a row from one address lock the account for that address for 10 minutes (its owner is
/// emailed); unknown email, wrong password and lock give the same answer in about the same
/// time, since each verifies one hash. Attempts are rate-limited per address and per email
/// before any hashing.
#[tracing::instrument(skip_all, fields(address = %address))]
pub async fn sign_in(ops: &Ops, email: &str, password: &str, address: &str) -> OpResult<Session> {
    let now = ops.now();
    let email = Email::parse(email).ok();
    rate_limit(
        ops,
        &format!("sign-in:address:{address}"),
        SIGN_IN_PER_ADDRESS,
        now,
    )
    .await?;
    if let Some(email) = &email {
        rate_limit(
            ops,
            &format!("sign-in:account:{email}"),
            SIGN_IN_PER_ACCOUNT,
            now,
        )
        .await?;
    }
    let user = match &email {
        Some(email) => users::access_by_email(&ops.db, email).await?,
        None => None,
    };
    let Some(user) = user else {
        ops.hashing.verify(password.to_owned(), None).await?;
        tracing::info!(
            security_event = "sign_in_failed",
            reason = "unknown_email",
            "failed sign-in"
        );
        return Err(Error::SignIn(SignInFailure::Incorrect));
    };
    let attempt = limits::reserve_sign_in(&ops.db, user.id, address, now).await?;
    // Verified even when locked, so a lock costs the time a wrong password does.
    let correct = ops
        .hashing
        .verify(password.to_owned(), user.password_hash.clone())
        .await?;
    let attempt = match attempt {
        Attempt::Locked(until) => {
            tracing::info!(
                security_event = "sign_in_failed",
                reason = "locked",
                user = %user.id,
                %until,
                "failed sign-in"
            );
            return Err(Error::SignIn(SignInFailure::Incorrect));
        }
        Attempt::Allowed(attempt) => attempt,
    };
    if !correct {
        failed(ops, &user, address, attempt, now).await?;
        return Err(Error::SignIn(SignInFailure::Incorrect));
    }
    limits::clear_failures(&ops.db, user.id, address).await?;
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

/// A wrong password: when it is the one that locks, the lock, the email to the account's owner
/// and the Activity entry go in together.
async fn failed(
    ops: &Ops,
    user: &UserAccess,
    address: &str,
    attempt: i64,
    now: Timestamp,
) -> OpResult<()> {
    let mut tx = ops.db.begin_write().await?;
    match limits::failed_sign_in(&mut tx, user.id, address, attempt, now).await? {
        Some(until) => {
            notify::sign_in_locked(
                &mut tx,
                &ops.links,
                user.id,
                &user.email,
                address,
                until,
                now,
            )
            .await?;
            let entry = SecurityEntry::SignInLocked {
                email: &user.email,
                address,
            };
            audit::record_security(&mut tx, user.id, entry, None, now).await?;
            tracing::warn!(
                security_event = "sign_in_locked",
                user = %user.id,
                %until,
                "sign-in locked for this address after wrong passwords"
            );
        }
        None => tracing::info!(
            security_event = "sign_in_failed",
            reason = "wrong_password",
            user = %user.id,
            attempt,
            "failed sign-in"
        ),
    }
    tx.commit().await?;
    Ok(())
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
    let hash = ops.hashing.hash(password.expose().to_owned()).await?;
    let now = ops.now();
    let user = passwords::redeem(&ops.db, token, &hash, now).await?;
    let mut tx = ops.db.begin_write().await?;
    let email = users::label(&mut tx, user).await?;
    let entry = SecurityEntry::PasswordSet { email: &email };
    audit::record_security(&mut tx, user, entry, Some(user), now).await?;
    tx.commit().await?;
    tracing::info!(security_event = "password_set", %user, "password set from a link");
    Ok(user)
}

/// Forgot password: emails a reset link to the active user with `email`, at most once per 30
/// minutes, to at most a few requests per client address. The caller learns nothing about
/// whether the account exists.
#[tracing::instrument(skip_all, fields(address = %address))]
pub async fn request_reset(ops: &Ops, email: &Email, address: &str) -> OpResult<()> {
    let now = ops.now();
    rate_limit(
        ops,
        &format!("reset:address:{address}"),
        RESET_PER_ADDRESS,
        now,
    )
    .await?;
    let mut tx = ops.db.begin_write().await?;
    let Some(user) = passwords::active_user_by_email(&mut tx, ops.db.for_update(), email).await?
    else {
        return Ok(());
    };
    if !access::may_send_reset(passwords::last_reset(&mut tx, user).await?, now) {
        return Ok(());
    }
    notify::password_reset(&mut tx, &ops.links, user, email, now).await?;
    let entry = SecurityEntry::PasswordResetSent {
        email: email.as_str(),
    };
    audit::record_security(&mut tx, user, entry, None, now).await?;
    tx.commit().await?;
    tracing::info!(security_event = "password_reset_sent", %user, "reset link emailed");
    Ok(())
}
