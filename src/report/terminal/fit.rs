//! Tables that fit the screen without splitting what must stay whole.
//!
//! comfy-table wraps a cell at spaces and, when a word is wider than its column, inside the
//! word: an address, a number or a state name then continues on the next line, which reads as
//! two values. Every column here says how it may give way (kept whole, or wrapped between
//! words) and gets a lower bound no narrower than its widest unbreakable piece; a table that
//! cannot fit that way is the caller's to reshape (drop or merge columns).

use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};

/// How a column may give way when its table is narrower than its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Give {
    /// Never wrapped: each line of a cell stays one line (addresses, numbers, states, ids).
    Keep,
    /// Wrapped between words (lists, sentences), never inside a word.
    Wrap,
}

/// Display width of `s` (the tables hold no double-width characters).
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The narrowest a column holding `cells` can be drawn without splitting what `give` keeps.
pub(crate) fn min_width<'a>(cells: impl IntoIterator<Item = &'a str>, give: Give) -> usize {
    cells
        .into_iter()
        .flat_map(str::lines)
        .map(|line| match give {
            Give::Keep => chars(line),
            Give::Wrap => line.split(' ').map(chars).max().unwrap_or(0),
        })
        .max()
        .unwrap_or(0)
}

/// Width of a bordered table whose columns hold `widths` characters (one space of padding on
/// each side, one border character between and around columns).
pub(crate) fn framed(widths: impl IntoIterator<Item = usize>) -> usize {
    let (sum, n) = widths
        .into_iter()
        .fold((0, 0), |(s, n), w| (s + w + 2, n + 1));
    sum + n + 1
}

/// Constrains the columns of `t` by `gives` (one per column; missing ones wrap): kept columns
/// as wide as their widest line, wrapped ones at least as wide as their longest word. Returns
/// whether the table then fits the width it will be drawn in (always, when it has none).
pub(crate) fn fit(t: &mut Table, gives: &[Give]) -> bool {
    let n = t.column_count();
    let mut mins = Vec::with_capacity(n);
    for i in 0..n {
        let give = gives.get(i).copied().unwrap_or(Give::Wrap);
        let contents: Vec<String> = t
            .column_cells_with_header_iter(i)
            .map(|c| c.map(|c| c.content()).unwrap_or_default())
            .collect();
        let min = min_width(contents.iter().map(String::as_str), give);
        mins.push(min);
        let constraint = match give {
            Give::Keep => ColumnConstraint::ContentWidth,
            // comfy-table's boundaries count the column's padding (a space each side).
            Give::Wrap => ColumnConstraint::LowerBoundary(Width::Fixed(min as u16 + 2)),
        };
        if let Some(c) = t.column_mut(i)
            && !c.is_hidden()
        {
            c.set_constraint(constraint);
        }
    }
    match (t.content_arrangement(), t.width()) {
        (ContentArrangement::Disabled, _) | (_, None) => true,
        (_, Some(w)) => framed(mins) <= w as usize,
    }
}

/// The first of `variants` layouts of a table that fits (each built by `build`, which gives the
/// table and how each of its columns gives way), or the last when none does.
pub(crate) fn first_fitting(
    variants: usize,
    mut build: impl FnMut(usize) -> (Table, Vec<Give>),
) -> Table {
    let mut i = 0;
    loop {
        let (mut t, gives) = build(i);
        if fit(&mut t, &gives) || i + 1 >= variants {
            return t;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comfy_table::Cell;

    fn widest_line(t: &Table) -> usize {
        t.lines().map(|l| chars(&l)).max().unwrap_or(0)
    }

    #[test]
    fn kept_cells_stay_whole_and_wrapped_ones_break_between_words() {
        let mut t = Table::new();
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(54)
            .set_header(vec!["originator", "anomalies"]);
        t.add_row(vec![
            Cell::new("[2001:db8:1::31e7]:39320"),
            Cell::new("synack_retransmission, half_open"),
        ]);
        assert!(fit(&mut t, &[Give::Keep, Give::Wrap]));
        let text = t.to_string();
        assert!(text.contains("[2001:db8:1::31e7]:39320"), "{text}");
        assert!(text.contains("synack_retransmission"), "{text}");
        assert!(widest_line(&t) <= 54, "{text}");
        assert!(text.lines().count() > 5, "the list wraps: {text}");
    }

    #[test]
    fn a_table_too_wide_to_fit_says_so() {
        let mut t = Table::new();
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(20)
            .set_header(vec!["a", "b"]);
        t.add_row(vec!["10.0.0.1:40000", "172.16.0.1:443"]);
        assert!(!fit(&mut t, &[Give::Keep, Give::Keep]));
        assert_eq!(framed([14, 14]), 35);
    }
}
