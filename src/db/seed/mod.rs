//! Demo data: a small world with a company in every state (`seatledger demo`, `serve --demo`),
//! and bulk data for benchmarks (`demo --companies N --learners M`, in `bulk`).

mod bulk;

pub use bulk::{BulkSeed, bulk, bulk_with};

use jiff::{SignedDuration, Timestamp, ToSpan};
use sqlx::{Any, Transaction};

use super::companies::{self, NewCompany};
use super::users::{self, NewUser};
use super::{Actor, Db, DbResult, partners, seats};
use crate::domain::{
    CompanyId, Country, Email, OrderKind, OrgName, PartnerId, PersonName, Role, SeatCount,
    TimeZoneName, TrialDays, UserId,
};

/// A demo text as the value type it must be; the demo's own texts are always valid.
fn valid<T>(parsed: Result<T, crate::domain::InvalidValue>) -> T {
    parsed.expect("the demo's texts are valid values")
}

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "demo-password";

/// One demo login, printed for the person trying the product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoLogin {
    pub role: &'static str,
    pub company: String,
    pub state: String,
    pub email: String,
}

/// True when the database holds no partner yet.
pub async fn is_empty(db: &Db) -> DbResult<bool> {
    let partners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partners")
        .fetch_one(db.pool())
        .await?;
    Ok(partners == 0)
}

struct Seeder<'a> {
    tx: Transaction<'static, Any>,
    password_hash: &'a str,
    logins: Vec<DemoLogin>,
}

impl Seeder<'_> {
    async fn user(
        &mut self,
        email: &str,
        name: (&str, &str),
        role: Role,
        login: Option<(&'static str, &str, &str)>,
        at: Timestamp,
    ) -> DbResult<UserId> {
        let email = Email::parse(email).expect("demo emails are valid");
        let id = users::create(
            &mut self.tx,
            &NewUser {
                email: &email,
                first_name: &valid(PersonName::parse(name.0)),
                last_name: &valid(PersonName::parse(name.1)),
                department: None,
                password_hash: Some(self.password_hash),
                role,
            },
            at,
        )
        .await?;
        if let Some((role, company, state)) = login {
            self.logins.push(DemoLogin {
                role,
                company: company.to_owned(),
                state: state.to_owned(),
                email: email.to_string(),
            });
        }
        Ok(id)
    }
}

/// A demo company: its name, when it was created, and what happened to it since.
struct DemoCompany {
    name: &'static str,
    slug: &'static str,
    state: &'static str,
    created: Timestamp,
    /// When a batch of 4 seats was assigned (learners 1–3 get seats; 4 and 5 stay expired).
    licensed_at: Option<Timestamp>,
    /// How the learners of an unlicensed company stand.
    learners: &'static str,
}

/// Seeds the demo world at `now` and returns its logins (all with `DEMO_PASSWORD`).
pub async fn demo(db: &Db, password_hash: &str, now: Timestamp) -> DbResult<Vec<DemoLogin>> {
    let mut s = Seeder {
        tx: db.begin_write().await?,
        password_hash,
        logins: Vec::new(),
    };
    let days = |d: i64| SignedDuration::from_hours(24 * d);
    let year_ago = now
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .checked_sub(12.months())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let started = now - days(400);

    s.user(
        "operator@seatledger.example",
        ("Olive", "Operator"),
        Role::Operator,
        Some(("operator", "-", "-")),
        started,
    )
    .await?;
    let distributor = partners::create(
        &mut s.tx,
        None,
        &valid(OrgName::parse("Northwind Distribution")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    let msp = partners::create(
        &mut s.tx,
        Some(distributor),
        &valid(OrgName::parse("Bluefin IT")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    let sub = partners::create(
        &mut s.tx,
        Some(msp),
        &valid(OrgName::parse("Bluefin North")),
        TrialDays::DEFAULT,
        started,
    )
    .await?;
    for (partner, email, name, label) in [
        (
            distributor,
            "admin@northwind.example",
            ("Nora", "Northwind"),
            "Northwind Distribution",
        ),
        (
            msp,
            "admin@bluefin.example",
            ("Bea", "Bluefin"),
            "Bluefin IT",
        ),
        (
            sub,
            "admin@bluefin-north.example",
            ("Nils", "North"),
            "Bluefin North",
        ),
    ] {
        s.user(
            email,
            name,
            Role::Partner {
                partner,
                admin: true,
            },
            Some(("partner admin", label, "-")),
            started,
        )
        .await?;
    }
    let account_manager = s
        .user(
            "am@bluefin.example",
            ("Alex", "Morgan"),
            Role::Partner {
                partner: msp,
                admin: false,
            },
            Some(("account manager", "Bluefin IT", "-")),
            started,
        )
        .await?;

    let world = [
        DemoCompany {
            name: "Acme Trial Co",
            slug: "acme",
            state: "trial active",
            created: now - days(5),
            licensed_at: None,
            learners: "on trial",
        },
        DemoCompany {
            name: "Birch Ending Soon",
            slug: "birch",
            state: "trial ends within 72 h",
            created: now - days(28),
            licensed_at: None,
            learners: "on trial",
        },
        DemoCompany {
            name: "Cobalt Expired Trial",
            slug: "cobalt",
            state: "trial expired",
            created: now - days(33),
            licensed_at: None,
            learners: "licence expired",
        },
        DemoCompany {
            name: "Delta Renewal Due",
            slug: "delta",
            state: "premium, batch expires within 72 h",
            created: year_ago - days(20),
            licensed_at: Some(year_ago + days(2)),
            learners: "",
        },
        DemoCompany {
            name: "Echo Premium",
            slug: "echo",
            state: "premium",
            created: now - days(60),
            licensed_at: Some(now - days(30)),
            learners: "",
        },
    ];
    let mut to_license = Vec::new();
    for company in &world {
        let id = demo_company(&mut s, msp, Some(account_manager), company).await?;
        if let Some(at) = company.licensed_at {
            to_license.push((id, at));
        }
    }
    demo_company(
        &mut s,
        sub,
        None,
        &DemoCompany {
            name: "Fjord Fisheries",
            slug: "fjord",
            state: "trial active (sub-partner)",
            created: now - days(2),
            licensed_at: None,
            learners: "on trial",
        },
    )
    .await?;
    for &(company, at) in &to_license {
        seats::assign_batch(
            &mut s.tx,
            company,
            None,
            OrderKind::Premium,
            SeatCount::new(4).expect("4 is a valid seat count"),
            Actor::SYSTEM,
            at,
        )
        .await?;
    }
    let logins = s.logins;
    s.tx.commit().await?;

    for (company, at) in to_license {
        let learners: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE company_id = $1 AND is_learner = 1 ORDER BY email LIMIT 3",
        )
        .bind(company.0)
        .fetch_all(db.pool())
        .await?;
        let learners: Vec<UserId> = learners.into_iter().map(UserId).collect();
        let at = at + SignedDuration::from_hours(1);
        let backend = db.backend();
        super::write_retrying!(db, |tx| {
            seats::allocate_in(
                &mut tx,
                backend,
                company,
                &learners,
                seats::Vetted::No,
                Actor::SYSTEM,
                at,
            )
            .await
        })
        .await?;
    }
    Ok(logins)
}

async fn demo_company(
    s: &mut Seeder<'_>,
    partner: PartnerId,
    account_manager: Option<UserId>,
    company: &DemoCompany,
) -> DbResult<CompanyId> {
    let id = companies::create(
        &mut s.tx,
        &NewCompany {
            partner,
            name: &valid(OrgName::parse(company.name)),
            country: &valid(Country::parse("GB")),
            time_zone: &valid(TimeZoneName::parse("Europe/London")),
            account_manager,
            trial_days: TrialDays::DEFAULT,
        },
        company.created,
    )
    .await?;
    s.user(
        &format!("manager@{}.example", company.slug),
        (
            "Morgan",
            company.name.split(' ').next().unwrap_or("Manager"),
        ),
        Role::Company {
            company: id,
            manager: true,
            learner: false,
        },
        Some(("company manager", company.name, company.state)),
        company.created,
    )
    .await?;
    for n in 1..=5 {
        let state = match (company.licensed_at, n) {
            (Some(_), 1..=3) => "licensed",
            (Some(_), _) => "licence expired",
            (None, _) => company.learners,
        };
        s.user(
            &format!("learner{n}@{}.example", company.slug),
            ("Learner", &n.to_string()),
            Role::Company {
                company: id,
                manager: false,
                learner: true,
            },
            Some(("learner", company.name, state)),
            company.created,
        )
        .await?;
    }
    Ok(id)
}
