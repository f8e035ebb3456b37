//! The list kit: every list page links its pages, page lengths and sortable headings the
//! same way, each link keeping the list's filters. A page builds [`ListLinks`] from its query
//! and [`Listing`], then asks it for the [`Pager`] and the table's [`Heading`]s.

use pcis_service::{Listing, PAGE_SIZES, SortKey};
use serde::Serialize;

use crate::i18n::{Lang, translate};
use crate::views::Pager;

/// The address of a list and the filters every one of its links keeps.
pub struct ListLinks {
    path: &'static str,
    /// The filters, without page, length and sort (empty values dropped).
    filters: Vec<(String, String)>,
    size: i64,
    sort: String,
    /// The page length unless asked otherwise (left out of links).
    usual_size: i64,
}

/// One column heading; a sortable one links to the list sorted by it.
pub struct Heading {
    pub label: String,
    pub class: &'static str,
    pub href: Option<String>,
    /// `ascending`, `descending` or `none` (aria-sort), for the sorted column only.
    pub aria_sort: &'static str,
    pub mark: &'static str,
}

/// The hidden inputs and target of the "go to page" form.
pub struct Jump {
    pub action: &'static str,
    pub keep: Vec<(String, String)>,
}

impl ListLinks {
    /// `query` is the page's whole query (filters and list parameters); `usual` the list's
    /// default, so that links to it stay short.
    pub fn new<K: SortKey>(
        path: &'static str,
        query: &impl Serialize,
        listing: &Listing<K>,
        usual: &Listing<K>,
    ) -> Self {
        let text = serde_urlencoded::to_string(query).unwrap_or_default();
        let filters = serde_urlencoded::from_str::<Vec<(String, String)>>(&text)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, v)| !v.is_empty() && !matches!(k.as_str(), "page" | "size" | "sort"))
            .collect();
        let sort = if (listing.sort, listing.desc) == (usual.sort, usual.desc) {
            String::new()
        } else {
            listing.sort_param()
        };
        ListLinks { path, filters, size: listing.per_page, sort, usual_size: usual.per_page }
    }

    fn href(&self, page: i64, size: i64, sort: &str) -> String {
        let mut pairs: Vec<(&str, String)> =
            self.filters.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        if !sort.is_empty() {
            pairs.push(("sort", sort.to_owned()));
        }
        if size != self.usual_size {
            pairs.push(("size", size.to_string()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        match serde_urlencoded::to_string(&pairs).unwrap_or_default() {
            q if q.is_empty() => self.path.to_owned(),
            q => format!("{}?{q}", self.path),
        }
    }

    /// The pager: pages around this one, the page lengths, and a "go to page" form.
    pub fn pager<K: SortKey>(&self, total: i64, listing: &Listing<K>) -> Pager {
        let mut pager =
            Pager::new(total, listing.page, listing.per_page, |p| self.href(p, self.size, &self.sort));
        pager.sizes =
            PAGE_SIZES.iter().map(|s| (*s, self.href(1, *s, &self.sort), *s == self.size)).collect();
        let mut keep = self.filters.clone();
        keep.push(("size".into(), self.size.to_string()));
        if !self.sort.is_empty() {
            keep.push(("sort".into(), self.sort.clone()));
        }
        pager.jump = (pager.last > 1).then_some(Jump { action: self.path, keep });
        pager
    }

    /// The table's headings: `(label key, class, sort key)`; a column with a key sorts the
    /// list by it, ascending first, and toggles when it is already the sort.
    pub fn headings<K: SortKey>(
        &self,
        lang: Lang,
        listing: &Listing<K>,
        columns: &[(&str, &'static str, Option<K>)],
    ) -> Vec<Heading> {
        columns
            .iter()
            .map(|(key, class, sort)| {
                let label = translate(lang, key, &[]);
                let Some(k) = sort else {
                    return Heading { label, class, href: None, aria_sort: "", mark: "" };
                };
                let current = listing.sort == *k;
                let desc_next = current && !listing.desc;
                let param = format!("{}{}", if desc_next { "-" } else { "" }, k.code());
                let (aria_sort, mark) = match (current, listing.desc) {
                    (false, _) => ("none", ""),
                    (true, false) => ("ascending", " ▲"),
                    (true, true) => ("descending", " ▼"),
                };
                Heading { label, class, href: Some(self.href(1, self.size, &param)), aria_sort, mark }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcis_service::UserSort;

    #[derive(Serialize)]
    struct Q {
        q: String,
        status: String,
        page: Option<i64>,
    }

    #[test]
    fn links_keep_the_filters_and_change_one_thing() {
        let usual = UserSort::USUAL;
        let listing = usual.requested(Some(3), Some(20), "-username");
        let query = Q { q: "张 三".into(), status: String::new(), page: Some(3) };
        let links = ListLinks::new("/users", &query, &listing, &usual);
        let pager = links.pager(1000, &listing);
        assert_eq!(pager.next_href, "/users?q=%E5%BC%A0+%E4%B8%89&sort=-username&size=20&page=4");
        assert_eq!(pager.sizes[1], (50, "/users?q=%E5%BC%A0+%E4%B8%89&sort=-username".to_owned(), false));
        let jump = pager.jump.expect("many pages");
        assert!(
            jump.keep.contains(&("size".into(), "20".into()))
                && jump.keep.contains(&("sort".into(), "-username".into()))
        );
        let heads = links.headings(
            Lang::Zh,
            &listing,
            &[
                ("user.username", "", Some(UserSort::Username)),
                ("user.roles", "", None),
                ("user.staff_no", "", Some(UserSort::StaffNo)),
            ],
        );
        assert_eq!(
            (heads[0].aria_sort, heads[0].href.as_deref()),
            ("descending", Some("/users?q=%E5%BC%A0+%E4%B8%89&sort=username&size=20"))
        );
        assert!(heads[1].href.is_none());
        assert_eq!(heads[2].href.as_deref(), Some("/users?q=%E5%BC%A0+%E4%B8%89&sort=staff_no&size=20"));
        let first = ListLinks::new(
            "/users",
            &Q { q: String::new(), status: String::new(), page: None },
            &usual,
            &usual,
        );
        assert_eq!(first.pager(10, &usual).prev_href, "/users", "the usual list has a plain address");
    }
}
