//! The bench's chart: one SVG file, horizontal bars of requests per second,
//! bare and IBDb side by side for each request kind and client. Plain SVG
//! text, so the book can show it as an image without a plotting library.

use std::fmt::Write;

pub struct Group {
    pub label: String,
    pub bare: f64,
    pub ibdb: f64,
    pub ratio: f64,
}

const WIDTH: f64 = 760.0;
const LEFT: f64 = 20.0;
const BAR_MAX: f64 = 560.0;
const BAR: f64 = 22.0;
const GROUP: f64 = 86.0;
const TOP: f64 = 40.0;

/// `note` goes under the title: where and under what load it was measured.
pub fn svg(groups: &[Group], note: &str) -> String {
    let max = groups
        .iter()
        .flat_map(|g| [g.bare, g.ibdb])
        .fold(1.0, f64::max);
    let height = TOP + 18.0 + GROUP * groups.len() as f64 + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">Requests per second (median of rounds): bare axum+sqlx vs IBDb</text><text x="{LEFT}" y="42" font-size="12">{}</text>"##,
        escape(note)
    );
    for (i, g) in groups.iter().enumerate() {
        let y = TOP + 18.0 + GROUP * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="{:.0}" font-weight="bold">{} (IBDb ÷ bare = {:.2})</text>"#,
            y + 14.0,
            escape(&g.label),
            g.ratio
        );
        for (j, (name, value, colour)) in [("bare", g.bare, "#9e9e9e"), ("IBDb", g.ibdb, "#1f6fb2")]
            .into_iter()
            .enumerate()
        {
            let bar_y = y + 22.0 + j as f64 * (BAR + 4.0);
            let width = (value / max * BAR_MAX).max(1.0);
            let _ = writeln!(
                out,
                r#"<rect x="{:.0}" y="{bar_y:.0}" width="{width:.1}" height="{BAR}" fill="{colour}"/><text x="{LEFT}" y="{:.0}">{name}</text><text x="{:.1}" y="{:.0}">{value:.0}</text>"#,
                LEFT + 50.0,
                bar_y + 16.0,
                LEFT + 56.0 + width,
                bar_y + 16.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_bar_pair_per_group() {
        let svg = super::svg(
            &[super::Group {
                label: "GET /books/{id} <built-in>".into(),
                bare: 20000.0,
                ibdb: 19000.0,
                ratio: 0.95,
            }],
            "a note",
        );
        assert_eq!(svg.matches("<rect").count(), 3, "background and two bars");
        assert!(svg.contains("&lt;built-in&gt;") && svg.contains("0.95"));
    }
}
