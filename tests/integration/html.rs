//! `analyze --html`: the report in a real browser (headless Chromium): it renders without a
//! console message (no script error, no blocked load: its Content-Security-Policy forbids every
//! fetch, so a load it tried would be reported), the anomaly table filters, the ladder of a
//! named connection shows both sides' states; a screenshot is left in target/ to look at.

use std::path::Path;
use std::process::Command as Std;

use crate::util::*;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Std::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn report(capture: &Path, out: &Path) {
    let o = tcpaudit()
        .arg("analyze")
        .arg(capture)
        .arg("--html")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The DOM after the page's script ran, and Chromium's log.
fn load(browser: &str, url: &str, extra: &[&str]) -> (String, String) {
    let o = Std::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--enable-logging=stderr", "--v=0"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_report_renders_filters_and_draws_ladders_offline() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    report(&fixture("recordings/challenge_ack.pcap"), &html);
    let text = std::fs::read_to_string(&html).unwrap();
    // Self-contained: no URL but the SVG namespace, and a policy that forbids fetching.
    let urls: Vec<String> = text
        .match_indices("://")
        .map(|(i, _)| {
            let scheme = text[..i]
                .rsplit(|c: char| !c.is_ascii_alphabetic())
                .next()
                .unwrap_or("");
            let rest: String = text[i..]
                .chars()
                .take_while(|c| !"\"' ;)".contains(*c))
                .collect();
            format!("{scheme}{rest}")
        })
        .filter(|u| u != "http://www.w3.org/2000/svg")
        .collect();
    assert!(urls.is_empty(), "{urls:?}");
    assert!(text.contains("Content-Security-Policy\" content=\"default-src 'none';"));
    let Some(browser) = chromium() else {
        require(
            false,
            "chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let url = format!("file://{}", html.display());
    let (dom, log) = load(browser, &format!("{url}#q=challenge_ack"), &["--dump-dom"]);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "{console:?}");
    // The filter from the link leaves one of the five anomalies.
    assert_eq!(dom.matches("<tr data-id=").count(), 1, "{dom}");
    assert!(dom.contains("<tr data-id=\"challenge_ack\""));
    assert!(dom.contains("<span id=\"count\">1 of 5</span>"), "{dom}");
    // Connection 1's ladder, with both sides' states.
    let ladder = &dom[dom
        .find("id=\"ladder-1\"")
        .expect("the ladder of connection 1")..];
    let ladder = &ladder[..ladder.find("</svg>").unwrap()];
    for (side, state) in [
        ("orig", "SYN-SENT"),
        ("orig", "ESTABLISHED"),
        ("resp", "SYN-RECEIVED"),
        ("resp", "LAST-ACK"),
    ] {
        assert!(
            ladder.contains(&format!("data-side=\"{side}\"")) && ladder.contains(state),
            "{side} {state}"
        );
    }
    assert!(ladder.contains("rst_injection_suspected"));
    // Its summary names Zeek's conn_state and history as `-f json` gives them (rebuilt from the
    // segments the ladder read again), and its waterfall bar both final RFC states.
    assert!(
        dom.contains("title=\"Zeek conn_state RSTO, history ShADaRFdf\">RSTO</span>"),
        "{dom}"
    );
    assert!(dom.contains("CLOSED/CLOSED (rst)"), "{dom}");
    // Unfiltered, all five rows; and a screenshot to look at.
    let (dom, _) = load(browser, &url, &["--dump-dom"]);
    assert_eq!(dom.matches("<tr data-id=").count(), 5);
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/html-report.png");
    let arg = format!("--screenshot={}", shot.display());
    let (_, log) = load(browser, &url, &[&arg, "--window-size=1300,1700"]);
    assert!(shot.exists(), "{log}");
}

#[test]
fn a_big_capture_stays_bounded() {
    // The generated mixed capture: every table bounded, the file small.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("mixed.html");
    report(&fixture("generated/mixed.pcap"), &html);
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(size < 2 << 20, "{size} bytes");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.matches("class=\"ladder\"").count() <= 100);
}

#[test]
fn page_loads_are_drawn_with_app() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("pages.html");
    let o = tcpaudit()
        .args(["analyze", "--app"])
        .arg(fixture("recordings/page_load.pcap"))
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("<section id=\"pages\">"));
    // Without --app, no page section.
    let plain = dir.path().join("plain.html");
    report(&fixture("recordings/page_load.pcap"), &plain);
    assert!(
        !std::fs::read_to_string(&plain)
            .unwrap()
            .contains("id=\"pages\"")
    );
    let Some(browser) = chromium() else {
        require(
            false,
            "chromium is not installed (apt-get install chromium)",
        );
        return;
    };
    let (dom, log) = load(
        browser,
        &format!("file://{}", html.display()),
        &["--dump-dom"],
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "{console:?}");
    assert_eq!(dom.matches("<div class=\"page\">").count(), 5, "{dom}");
    assert!(dom.contains("GET /app.js"));
    assert!(dom.contains("tls static.example"));
}

/// The report keeps stories for its ladders; the JSON lines written beside it stay as they are
/// without `--transitions`: no `story` objects (the interface says "only with
/// `--transitions`"), byte for byte the run without `--html`.
#[test]
fn json_records_are_the_same_with_and_without_html() {
    let dir = tempfile::tempdir().unwrap();
    let capture = fixture("recordings/page_load.pcap");
    let json = |extra: &[&str]| {
        let o = tcpaudit()
            .args(["analyze", "-f", "json"])
            .args(extra)
            .arg(&capture)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let html = dir.path().join("r.html");
    let plain = json(&[]);
    let with_html = json(&["--html", html.to_str().unwrap()]);
    assert!(!connections(&json_lines(&plain)).is_empty());
    assert_eq!(
        String::from_utf8_lossy(&with_html),
        String::from_utf8_lossy(&plain)
    );
    // Asked for, the stories are there (with and without the report).
    for extra in [
        &["--transitions"][..],
        &["--transitions", "--html", html.to_str().unwrap()],
    ] {
        let conns = connections(&json_lines(&json(extra)));
        assert!(conns.iter().all(|c| c.get("story").is_some()), "{extra:?}");
    }
}

/// The report's data: the JSON in its `<script id="data">` element.
fn report_data(html: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(html).unwrap();
    let start = text
        .find("<script id=\"data\" type=\"application/json\">")
        .unwrap();
    let body = &text[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</script>").unwrap()];
    serde_json::from_str(&body.replace("<\\/", "</")).unwrap()
}

/// The waterfall is drawn from the records' own fields, so the analysis keeps stories only
/// until the ladders are picked (the first 100 of mixed's flagged connections to close):
/// the report is byte for byte the one made with every story kept (`--transitions`), and each
/// bar's handshake, first FIN and TIME-WAIT end are the records' (the handshake completed at
/// the story's third ACK, TIME-WAIT held until `time_wait_until`: none where a RST ended it).
#[test]
fn the_waterfall_comes_from_the_records_and_stories_stop_at_the_last_ladder() {
    let dir = tempfile::tempdir().unwrap();
    // On mixed, records leave the table soon after their last segment: the last ladder is
    // picked at connection 181 of 349 (by default, at the end of the capture).
    let soon = [
        "--msl",
        "0.05",
        "--idle-timeout",
        "1",
        "--attempt-timeout",
        "1",
        "--handshake-timeout",
        "1",
    ];
    for (capture, opts) in [
        ("generated/mixed.pcap", &soon[..]),
        ("recordings/timewait_assassination.pcap", &[]),
    ] {
        let capture = fixture(capture);
        let run = |extra: &[&str], html: &Path| {
            let o = tcpaudit()
                .args(["analyze", "-f", "json"])
                .args(opts)
                .args(extra)
                .arg(&capture)
                .arg("--html")
                .arg(html)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            o.stdout
        };
        let (lean, full) = (dir.path().join("lean.html"), dir.path().join("full.html"));
        run(&[], &lean);
        let records = connections(&json_lines(&run(&["--transitions"], &full)));
        assert!(
            std::fs::read(&lean).unwrap() == std::fs::read(&full).unwrap(),
            "{}: the report differs from the one with every story kept",
            capture.display()
        );
        let data = report_data(&lean);
        // The waterfall lists connections as they end; the records are sorted by id.
        let mut rows = data["conns"].as_array().unwrap().clone();
        rows.sort_by_key(|r| r["id"].as_u64());
        assert_eq!(rows.len(), records.len());
        let base = records
            .iter()
            .map(|r| r["first_ts"].as_f64().unwrap())
            .fold(f64::MAX, f64::min);
        let rel = |v: &serde_json::Value| v.as_f64().map(|t| t - base);
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 2e-6,
            (a, b) => a.is_none() && b.is_none(),
        };
        let mut tw = 0;
        for (row, r) in rows.iter().zip(&records) {
            assert_eq!(row["id"], r["id"]);
            let m = &r["story"]["milestones"];
            let fin = [
                rel(&m["first_fin_orig"]["ts"]),
                rel(&m["first_fin_resp"]["ts"]),
            ]
            .into_iter()
            .flatten()
            .reduce(f64::min);
            assert!(
                close(row["hs"].as_f64(), rel(&m["third_ack"]["ts"])),
                "{row} {r}"
            );
            assert!(close(row["fin"].as_f64(), fin), "{row} {r}");
            assert!(
                close(row["tw"].as_f64(), rel(&r["time_wait_until"])),
                "{row} {r}"
            );
            tw += usize::from(row["tw"].is_number());
        }
        if capture.ends_with("timewait_assassination.pcap") {
            assert_eq!(rows[0]["tw"], serde_json::Value::Null);
            assert!(records[0]["story"]["milestones"]["time_wait"].is_object());
        } else {
            assert!(tw > 50, "{tw}");
        }
    }
}
