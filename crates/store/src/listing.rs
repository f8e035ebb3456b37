//! Which page of a list, how long and in which order: the same three for every list, so that
//! every list pages, sizes and sorts alike. A list names its sortable columns as an enum
//! whose SQL is fixed here in storage; a request only picks one of them by its code.

use crate::Page;

/// The page lengths a user may choose.
pub const PAGE_SIZES: [i64; 3] = [20, 50, 100];

/// The last page a request may ask for: the offset stays far from overflowing, and nobody
/// pages further than filters take them.
pub const MAX_PAGE: i64 = 100_000;

/// Declares a list's sortable columns: `Variant = ("code", "SQL, unique_column")`.
#[macro_export]
macro_rules! sort_keys {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($variant:ident = ($code:literal, $sql:literal)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::listing::SortKey for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            fn order_by(self) -> &'static str {
                match self { $($name::$variant => $sql),+ }
            }
        }
    };
}

/// The sortable columns of one list.
pub trait SortKey: Copy + PartialEq + 'static {
    /// Every key, by its code (`username`, `at`…).
    const ALL: &'static [Self];

    fn code(self) -> &'static str;

    /// The SQL it orders by: one or more comma-separated expressions, the last unique, so
    /// that pages never overlap.
    fn order_by(self) -> &'static str;
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Listing<K> {
    pub page: i64,
    pub per_page: i64,
    pub sort: K,
    pub desc: bool,
}

impl<K: SortKey> Listing<K> {
    /// The first page of `per_page` rows in the list's usual order.
    pub fn first(sort: K, desc: bool, per_page: i64) -> Self {
        Listing { page: 1, per_page, sort, desc }
    }

    /// Reads a request's page (from 1), length (one of [`PAGE_SIZES`], else the list's
    /// default) and sort (`code`, or `-code` for descending; unknown codes keep the default).
    pub fn requested(self, page: Option<i64>, size: Option<i64>, sort: &str) -> Self {
        let (desc, code) = match sort.strip_prefix('-') {
            Some(code) => (true, code),
            None => (false, sort),
        };
        let chosen = K::ALL.iter().find(|k| k.code() == code);
        Listing {
            page: page.unwrap_or(1).clamp(1, MAX_PAGE),
            per_page: size.filter(|s| PAGE_SIZES.contains(s)).unwrap_or(self.per_page),
            sort: chosen.copied().unwrap_or(self.sort),
            desc: if chosen.is_some() { desc } else { self.desc },
        }
    }

    /// The sort as a request writes it.
    pub fn sort_param(&self) -> String {
        format!("{}{}", if self.desc { "-" } else { "" }, self.sort.code())
    }

    /// ` ORDER BY … LIMIT … OFFSET …` for the query.
    pub fn sql_tail(&self) -> String {
        let dir = if self.desc { "DESC" } else { "ASC" };
        let order: Vec<String> = self.sort.order_by().split(", ").map(|c| format!("{c} {dir}")).collect();
        let offset = (self.page - 1) * self.per_page;
        format!(" ORDER BY {} LIMIT {} OFFSET {offset}", order.join(", "), self.per_page)
    }

    pub fn page_of<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        Page { items, total, page: self.page, per_page: self.per_page }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::sort_keys! {
        enum Col {
            Name = ("name", "u.name, u.id"),
            At = ("at", "a.seq"),
        }
    }

    #[test]
    fn a_request_picks_only_known_sorts_and_sizes() {
        let usual = Listing::first(Col::At, true, 50);
        let l = usual.requested(Some(3), Some(20), "name");
        assert_eq!(l, Listing { page: 3, per_page: 20, sort: Col::Name, desc: false });
        assert_eq!(l.sql_tail(), " ORDER BY u.name ASC, u.id ASC LIMIT 20 OFFSET 40");
        let l = usual.requested(Some(-5), Some(7), "-name");
        assert_eq!((l.page, l.per_page, l.sort, l.desc), (1, 50, Col::Name, true));
        assert_eq!(l.sort_param(), "-name");
        let l = usual.requested(None, None, "password_hash; DROP TABLE x");
        assert_eq!(l, usual, "an unknown column keeps the usual order");
    }
}
