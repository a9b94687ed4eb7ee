//! The partner's Admin Dashboard, one file per section: Company (with Create and Edit Company and
//! manage mode), Sub-partners, Licences → Orders (with the partner's own licences), Activity, and
//! Settings (the partner's time zone).

mod activity;
mod companies;
pub(super) mod orders;
mod overview;
mod own_orders;
mod settings;
mod sub_partners;

use super::Routes;

pub(super) use overview::EXPORTS_AT_ONCE;

/// Rows per page on every partner list.
const PAGE: u32 = 50;

pub(super) fn routes(routes: Routes) -> Routes {
    let routes = companies::routes(routes);
    let routes = orders::routes(routes);
    let routes = overview::routes(routes);
    let routes = own_orders::routes(routes);
    let routes = sub_partners::routes(routes);
    let routes = settings::routes(routes);
    activity::routes(routes)
}

/// `a=1&b=2` from the non-empty pairs, for links that keep a list's filters.
fn query_string(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish()
}
