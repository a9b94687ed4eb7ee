//! The signed-in caller and the areas of the console. Each handler names the area it serves by
//! its extractor (`PartnerArea`, `CompanyArea`, ...): the extractor finds the session, re-decides
//! the user's access now, sends anyone who belongs elsewhere to their own area, and hands the
//! handler the `Caller` (and for company pages the `AuthorisedCompany` proof) and the page frame.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use super::layout::Layout;
use super::session::{CsrfToken, cookie};
use super::{AppState, PageError};
use crate::db::scope::{self, AuthorisedCompany};
use crate::db::users::{self, UserAccess};
use crate::db::{DbError, Scope, companies, sessions};
use crate::domain::access::{self, Landing, SignInDecision};
use crate::domain::{Action, PartnerId, Role};
use crate::ops::{Caller, Error, Refusal};

/// The areas of the console; each signed-in user may use exactly one, decided by `Landing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Operator,
    Partner,
    Company,
    Landing,
    Learner,
}

impl Area {
    pub fn of(landing: Landing) -> Self {
        match landing {
            Landing::OperatorConsole => Area::Operator,
            Landing::AdminDashboard => Area::Partner,
            Landing::CompanyDashboard => Area::Company,
            Landing::LandingPage { .. } => Area::Landing,
            Landing::LearnerHome => Area::Learner,
        }
    }

    pub fn home(self) -> &'static str {
        match self {
            Area::Operator => "/operator",
            Area::Partner => "/partner",
            Area::Company => "/company",
            Area::Landing => "/landing",
            Area::Learner => "/learner",
        }
    }
}

/// The caller of a request, with a live session, re-checked against the access rules now.
pub struct SignedIn {
    pub user: UserAccess,
    pub caller: Caller,
    pub landing: Landing,
    /// The company this caller works in: their own, or the one a partner user manages.
    pub company: Option<AuthorisedCompany>,
    /// The session cookie's token.
    pub token: String,
    pub csrf: CsrfToken,
    /// For a manager of a Managed company: who runs its programme. Their view is read-only.
    pub managed_by: Option<ManagedBy>,
    /// The notice the previous action left for this page (taken: shown once).
    pub flash: Option<String>,
}

/// Who runs a Managed company's programme, named on its managers' read-only pages.
#[derive(Clone, Debug)]
pub struct ManagedBy {
    pub partner: String,
    pub account_manager: Option<String>,
}

impl SignedIn {
    pub fn area(&self) -> Area {
        Area::of(self.landing)
    }

    /// True while a partner user is in manage mode.
    pub fn managing(&self) -> bool {
        self.caller.actor.on_behalf_of.is_some()
    }

    /// The frame of a page titled `title` in this caller's area, `current` marking its section.
    pub fn layout(&self, title: &str, current: &str) -> Layout {
        Layout::signed_in(title, self, current)
    }

    /// Redirects to `to`, leaving `notice` for that page in the session (never in the URL, where
    /// anyone could write one).
    pub async fn redirect_with_notice(
        &self,
        state: &AppState,
        to: &str,
        notice: &str,
    ) -> Result<axum::response::Response, PageError> {
        sessions::set_flash(&state.ops.db, &self.token, Some(notice)).await?;
        Ok(axum::response::IntoResponse::into_response(
            axum::response::Redirect::to(to),
        ))
    }

    fn enter(self, area: Area) -> Result<Self, PageError> {
        if self.area() == area {
            Ok(self)
        } else {
            Err(PageError::Redirect(self.area().home().to_owned()))
        }
    }

    fn into_company(self) -> Result<(Self, AuthorisedCompany), PageError> {
        let mut who = self;
        let company = who.company.take().ok_or(PageError::Redirect("/".into()))?;
        who.company = Some(company.clone());
        Ok((who, company))
    }
}

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || PageError::Redirect("/sign-in".into());
        let csrf = CsrfToken::from_request_parts(parts, state).await?;
        let token = cookie(&parts.headers, state.config.cookies.session).ok_or_else(to_sign_in)?;
        let db = &state.ops.db;
        let now = state.ops.now();
        let session = sessions::find(db, token, now)
            .await?
            .ok_or_else(to_sign_in)?;
        let user = users::access_by_id(db, session.user)
            .await?
            .ok_or_else(to_sign_in)?;
        let own = user.company.as_ref().map(|c| &c.facts);
        let landing = match access::sign_in(&user.facts, own, now) {
            SignInDecision::Allowed { landing, .. } => landing,
            // Access ended since sign-in (licence expired, user deactivated): the session ends too.
            SignInDecision::Refused(_) => {
                sessions::revoke(db, token).await?;
                return Err(to_sign_in());
            }
        };
        let mut who = SignedIn {
            caller: Caller::user(&user, None),
            company: user.company.clone(),
            user,
            landing,
            token: token.to_owned(),
            csrf,
            managed_by: None,
            flash: session.flash,
        };
        if who.flash.is_some() {
            sessions::set_flash(db, token, None).await?;
        }
        if let (Some(managed), Role::Partner { partner, .. }) = (session.managing, who.user.role) {
            match scope::authorise(db, &Scope::Partner(partner), managed).await {
                Ok(company) => {
                    who.caller = Caller::user(&who.user, Some(company.id()));
                    who.company = Some(company);
                    who.landing = Landing::CompanyDashboard;
                }
                // The company left the partner's sight: manage mode ends.
                Err(DbError::NotFound) => sessions::set_managing(db, token, None).await?,
                Err(e) => return Err(e.into()),
            }
        }
        // The rights rule says who only looks: a manager of a Managed company.
        let only_looks = |c: &&AuthorisedCompany| {
            let runs = who.caller.require(Action::RunCompany, Some(c), now);
            matches!(runs, Err(Error::Forbidden(Refusal::ManagedCompany)))
        };
        if let Some(company) = who.company.as_ref().filter(only_looks) {
            let (partner, account_manager) = companies::managed_by(db, company).await?;
            who.managed_by = Some(ManagedBy {
                partner,
                account_manager,
            });
        }
        Ok(who)
    }
}

impl OptionalFromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = PageError;

    /// `None` when nobody (or nobody with access) is signed in; other failures stay errors.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <SignedIn as FromRequestParts<Arc<AppState>>>::from_request_parts(parts, state).await
        {
            Ok(who) => Ok(Some(who)),
            Err(PageError::Redirect(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

macro_rules! area_extractor {
    ($(#[$doc:meta])* $name:ident, $check:expr, { $($field:ident: $ty:ty),* }) => {
        $(#[$doc])*
        pub struct $name {
            pub who: SignedIn,
            $(pub $field: $ty,)*
        }

        impl FromRequestParts<Arc<AppState>> for $name {
            type Rejection = PageError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &Arc<AppState>,
            ) -> Result<Self, Self::Rejection> {
                let who = <SignedIn as FromRequestParts<Arc<AppState>>>::from_request_parts(
                    parts, state,
                )
                .await?;
                let check: fn(SignedIn) -> Result<$name, PageError> = $check;
                check(who)
            }
        }

        impl std::ops::Deref for $name {
            type Target = SignedIn;
            fn deref(&self) -> &SignedIn {
                &self.who
            }
        }
    };
}

area_extractor!(
    /// A page of the operator's console.
    OperatorArea,
    |who| Ok(OperatorArea { who: who.enter(Area::Operator)? }),
    {}
);

area_extractor!(
    /// A page of a partner's Admin Dashboard (outside manage mode).
    PartnerArea,
    |who| {
        let who = who.enter(Area::Partner)?;
        let partner = who.caller.partner().ok_or(PageError::Redirect("/".into()))?;
        Ok(PartnerArea { who, partner })
    },
    { partner: PartnerId }
);

area_extractor!(
    /// A page of a company's own dashboard: its managers, or a partner user in manage mode.
    CompanyArea,
    |who| {
        let (who, company) = who.enter(Area::Company)?.into_company()?;
        Ok(CompanyArea { who, company })
    },
    { company: AuthorisedCompany }
);

area_extractor!(
    /// The landing page of a manager whose company has no active trial or licence.
    LandingArea,
    |who| {
        let (who, company) = who.enter(Area::Landing)?.into_company()?;
        Ok(LandingArea { who, company })
    },
    { company: AuthorisedCompany }
);

area_extractor!(
    /// The page of a learner with an active licence.
    LearnerArea,
    |who| {
        let (who, company) = who.enter(Area::Learner)?.into_company()?;
        Ok(LearnerArea { who, company })
    },
    { company: AuthorisedCompany }
);

area_extractor!(
    /// Requesting licences: from the dashboard, or from the landing page after expiry.
    OrderingArea,
    |who| {
        let area = who.area();
        if area != Area::Company && area != Area::Landing {
            return Err(PageError::Redirect(area.home().to_owned()));
        }
        let (who, company) = who.into_company()?;
        Ok(OrderingArea { who, company })
    },
    { company: AuthorisedCompany }
);
