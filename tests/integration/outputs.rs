//! Formats other tools read, read back by those tools: Zeek logs by a Zeek log reader (zat's
//! `ZeekLogReader`) and by the header rules zeek-cut follows, EVE lines as Suricata writes
//! them, CSV and Parquet by DuckDB; every record agrees with the JSON output of the same run.

use std::collections::BTreeMap;
use std::process::Command as Std;

use serde_json::Value;

use crate::util::*;

/// The JSON records of `analyze --app -f json` on the mixed fixture.
fn json_records() -> Vec<Value> {
    json_lines(run(&["-f", "json"]).as_bytes())
}

/// Runs `analyze --app` on the mixed fixture with `args`; its standard output.
fn run(args: &[&str]) -> String {
    let out = tcpaudit()
        .args(["analyze", "--app"])
        .args(args)
        .arg(fixture("generated/mixed.pcap"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn by_id(records: &[Value], kind: &str) -> BTreeMap<u64, Value> {
    records
        .iter()
        .filter(|r| r["type"] == kind)
        .map(|r| (r["id"].as_u64().unwrap(), r.clone()))
        .collect()
}

/// Python with `module` importable, or the reason it is not.
fn python_with(module: &str) -> bool {
    let ok = Std::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        ok,
        &format!("the Python package {module} is not installed (pip install {module})"),
    )
}

/// Runs a Python script with `args`; its standard output.
fn python(script: &str, args: &[&str]) -> String {
    let out = Std::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The header of a Zeek ASCII log, as zeek-cut reads it: the separator line first, then
/// `#fields` and `#types` of equal length; every row has that many tab-separated fields.
fn zeek_columns(log: &str) -> Vec<(String, String)> {
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("#separator \\x09"));
    let header: BTreeMap<&str, Vec<&str>> = log
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k, v.split('\t').collect()))
        .collect();
    assert_eq!(header["set_separator"], [","]);
    assert_eq!(header["empty_field"], ["(empty)"]);
    assert_eq!(header["unset_field"], ["-"]);
    assert!(header.contains_key("open") && header.contains_key("close"));
    let (fields, types) = (&header["fields"], &header["types"]);
    assert_eq!(fields.len(), types.len());
    for row in log.lines().filter(|l| !l.starts_with('#')) {
        assert_eq!(row.split('\t').count(), fields.len(), "{row}");
    }
    fields
        .iter()
        .zip(types)
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

/// `-f zeek`: a conn.log whose header zeek-cut takes, with Zeek's columns in Zeek's order, that
/// zat's Zeek log reader parses row by row into the values of the JSON records; with -o DIR an
/// anomaly.log beside it holding every anomaly.
#[test]
fn zeek_logs_are_read_by_zeek_log_readers_and_agree_with_json() {
    let json = json_records();
    let conns = by_id(&json, "connection");
    let log = run(&["-f", "zeek"]);
    let cols = zeek_columns(&log);
    let names: Vec<&str> = cols.iter().map(|c| c.0.as_str()).collect();
    // Zeek's own conn.log columns, in its order, come first.
    let zeek = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration \
                orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history \
                orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents ip_proto";
    assert_eq!(names[..22], zeek.split(' ').collect::<Vec<_>>()[..]);
    assert_eq!(
        log.lines().filter(|l| !l.starts_with('#')).count(),
        conns.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let out = tcpaudit()
        .args(["analyze", "-f", "zeek", "-o"])
        .arg(dir.path())
        .arg(fixture("generated/mixed.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "with -o, nothing on standard output");
    let anomalies = std::fs::read_to_string(dir.path().join("anomaly.log")).unwrap();
    zeek_columns(&anomalies);
    let n_anomalies = json.iter().filter(|r| r["type"] == "anomaly").count();
    assert_eq!(
        anomalies.lines().filter(|l| !l.starts_with('#')).count(),
        n_anomalies
    );

    if !python_with("zat") {
        return;
    }
    // zat converts each field by its #types entry (time, addr, port, count, interval, set).
    let script = r#"
import calendar, json, sys
from zat.zeek_log_reader import ZeekLogReader
def plain(v):
    if hasattr(v, "utctimetuple"):  # time: a naive UTC datetime
        return calendar.timegm(v.utctimetuple()) + v.microsecond / 1e6
    if hasattr(v, "total_seconds"):  # interval
        return v.total_seconds()
    return v
for path in sys.argv[1:]:
    for row in ZeekLogReader(path).readrows():
        print(json.dumps({k: plain(v) for k, v in row.items()}, default=str))
"#;
    let conn_log = dir.path().join("conn.log");
    let rows = python(script, &[conn_log.to_str().unwrap()]);
    // zat says what it opens on standard output too: the records are the JSON lines.
    let rows: Vec<Value> = rows
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), conns.len());
    for row in &rows {
        let c = &conns[&row["tcpaudit_id"].as_u64().unwrap()];
        assert_eq!(row["id.orig_h"], c["orig_addr"]);
        assert_eq!(row["id.orig_p"], c["orig_port"]);
        assert_eq!(row["id.resp_h"], c["resp_addr"]);
        assert_eq!(row["id.resp_p"], c["resp_port"]);
        assert_eq!(row["conn_state"], c["conn_state"]);
        assert_eq!(row["history"], c["history"]);
        assert_eq!(row["orig_pkts"], c["orig"]["packets"]);
        assert_eq!(row["resp_ip_bytes"], c["resp"]["ip_bytes"]);
        assert_eq!(row["community_id"], c["community_id"]);
        let ts = row["ts"].as_f64().unwrap();
        assert!((ts - c["first_ts"].as_f64().unwrap()).abs() < 1e-5, "{ts}");
    }
    let rows = python(script, &[dir.path().join("anomaly.log").to_str().unwrap()]);
    assert_eq!(
        rows.lines().filter(|l| l.starts_with('{')).count(),
        n_anomalies
    );
}

/// `-f eve`: one `flow` record per connection and one `anomaly` record per anomaly, with
/// Suricata's field names and timestamp form, the same four-tuples, counts and Community IDs
/// as the JSON records.
#[test]
fn eve_records_have_suricatas_shape_and_agree_with_json() {
    let json = json_records();
    let conns = by_id(&json, "connection");
    let eve = json_lines(run(&["-f", "eve"]).as_bytes());
    let flows: Vec<&Value> = eve.iter().filter(|r| r["event_type"] == "flow").collect();
    assert_eq!(flows.len(), conns.len());
    let stamp = |v: &Value| {
        let t = v.as_str().unwrap();
        // 2023-11-14T22:13:20.680466+0000, as Suricata writes it.
        assert_eq!(t.len(), 31, "{t}");
        assert!(
            t.ends_with("+0000") && &t[10..11] == "T" && &t[19..20] == ".",
            "{t}"
        );
    };
    let mut flow_ids = std::collections::BTreeSet::new();
    for f in &flows {
        let c = &conns[&f["tcpaudit"]["id"].as_u64().unwrap()];
        stamp(&f["timestamp"]);
        stamp(&f["flow"]["start"]);
        stamp(&f["flow"]["end"]);
        assert_eq!(f["src_ip"], c["orig_addr"]);
        assert_eq!(f["dest_port"], c["resp_port"]);
        assert_eq!(f["proto"], "TCP");
        assert_eq!(f["community_id"], c["community_id"]);
        assert_eq!(f["flow"]["pkts_toserver"], c["orig"]["packets"]);
        assert_eq!(f["flow"]["bytes_toclient"], c["resp"]["frame_bytes"]);
        assert_eq!(f["tcpaudit"]["history"], c["history"]);
        assert!(flow_ids.insert(f["flow_id"].as_u64().unwrap()));
    }
    let anomalies: Vec<&Value> = eve
        .iter()
        .filter(|r| r["event_type"] == "anomaly")
        .collect();
    let want: Vec<&Value> = json.iter().filter(|r| r["type"] == "anomaly").collect();
    assert_eq!(anomalies.len(), want.len());
    for (a, w) in anomalies.iter().zip(&want) {
        stamp(&a["timestamp"]);
        assert_eq!(a["anomaly"]["event"], w["kind"]);
        assert_eq!(a["pcap_cnt"], w["frame"]);
        if let Some(id) = w["conn_id"].as_u64() {
            // An anomaly of a connection names its flow as the flow record does.
            let f = flows.iter().find(|f| f["tcpaudit"]["id"] == id).unwrap();
            assert_eq!(a["flow_id"], f["flow_id"]);
            assert_eq!(a["community_id"], f["community_id"]);
            assert_eq!(w["community_id"], f["community_id"], "JSON anomaly of {id}");
        }
    }
}

/// JSON keeps every digit of the capture's timestamps: the ISO 8601 strings beside the
/// numbers hold the same nanoseconds as the numbers' text.
#[test]
fn json_times_keep_nanoseconds_as_iso_text() {
    // A nanosecond capture: `first_ts` has nine decimals, more than a double keeps.
    let path = fixture("corpus/nanosecs_big_endian.pcap");
    let out = tcpaudit()
        .args(["analyze", "-f", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("\"connection\"")).unwrap();
    let num = line
        .split("\"first_ts\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    let iso = line
        .split("\"first_time\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (whole, frac) = num.split_once('.').unwrap();
    assert_eq!(frac.len(), 9, "{num}");
    let want = chrono_like(whole.parse().unwrap());
    assert_eq!(iso, format!("{want}.{frac}Z"), "{num}");
}

/// `YYYY-MM-DDTHH:MM:SS` of epoch seconds, via date(1): an oracle outside the tool.
fn chrono_like(secs: i64) -> String {
    let o = Std::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// `-f parquet -o DIR` and `-f csv -o DIR`: DuckDB reads every table, and the values equal
/// the JSON records'; `--rotate-records` splits a table into files DuckDB reads as one.
#[test]
fn parquet_and_csv_tables_are_read_by_duckdb_and_agree_with_json() {
    if !python_with("duckdb") {
        return;
    }
    let json = json_records();
    let conns = by_id(&json, "connection");
    let first_ns = exact_first_ts();
    let dir = tempfile::tempdir().unwrap();
    let (pq, csv) = (dir.path().join("pq"), dir.path().join("csv"));
    for (format, out) in [("parquet", &pq), ("csv", &csv)] {
        let o = tcpaudit()
            .args([
                "analyze",
                "--app",
                "--rotate-records",
                "100",
                "-f",
                format,
                "-o",
            ])
            .arg(out)
            .arg(fixture("generated/mixed.pcap"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let conn_files = std::fs::read_dir(&pq)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("connections-")
        })
        .count();
    // The connections in files of 100 records.
    assert_eq!(conn_files, conns.len().div_ceil(100));
    let script = r#"
import duckdb, json, sys
pq, csv = sys.argv[1], sys.argv[2]
db = duckdb.connect()
out = {}
for name, src in [("pq", f"'{pq}/connections-*.parquet'"),
                  ("csv", f"read_csv('{csv}/connections.csv', header=true, timestampformat='%Y-%m-%dT%H:%M:%S.%nZ')")]:
    rows = db.sql(f"""select id, orig_addr, resp_port, conn_state, history, orig_packets,
                          resp_stream_bytes, epoch_ns(first_ts) as first_ns, anomalies
                   from {src} order by id""").fetchall()
    out[name] = rows
for table in ["anomalies", "app"]:
    out[table] = db.sql(f"select count(*) from '{pq}/{table}-*.parquet'").fetchall()[0][0]
    out[table + "_csv"] = db.sql(f"select count(*) from read_csv('{csv}/{table}.csv', header=true)").fetchall()[0][0]
out["kinds"] = db.sql(f"select kind, count(*) from '{pq}/anomalies-*.parquet' group by kind order by kind").fetchall()
print(json.dumps(out, default=str))
"#;
    let out: Value = serde_json::from_str(&python(
        script,
        &[pq.to_str().unwrap(), csv.to_str().unwrap()],
    ))
    .unwrap();
    for name in ["pq", "csv"] {
        let rows = out[name].as_array().unwrap();
        assert_eq!(rows.len(), conns.len(), "{name}");
        for r in rows {
            let c = &conns[&r[0].as_u64().unwrap()];
            assert_eq!(r[1], c["orig_addr"], "{name}");
            assert_eq!(r[2], c["resp_port"]);
            assert_eq!(r[3], c["conn_state"]);
            assert_eq!(r[4], c["history"]);
            assert_eq!(r[5], c["orig"]["packets"]);
            assert_eq!(r[6], c["resp"]["stream_bytes"]);
            // Nanoseconds, from the exact text of the JSON number.
            assert_eq!(
                r[7].as_i64().unwrap(),
                first_ns[&c["id"].as_u64().unwrap()],
                "{name}"
            );
            let ids: Vec<&str> = c["anomalies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(r[8].as_str().unwrap_or(""), ids.join(","), "{name}");
        }
    }
    let anomalies: Vec<&Value> = json.iter().filter(|r| r["type"] == "anomaly").collect();
    assert_eq!(out["anomalies"], anomalies.len());
    assert_eq!(out["anomalies_csv"], anomalies.len());
    let app = json
        .iter()
        .filter(|r| ["dns", "tls", "http", "session"].contains(&r["type"].as_str().unwrap()))
        .count();
    assert!(app > 0);
    assert_eq!(out["app"], app);
    assert_eq!(out["app_csv"], app);
    let mut kinds = BTreeMap::new();
    for a in anomalies {
        *kinds
            .entry(a["kind"].as_str().unwrap().to_string())
            .or_insert(0u64) += 1;
    }
    for k in out["kinds"].as_array().unwrap() {
        assert_eq!(kinds[k[0].as_str().unwrap()], k[1].as_u64().unwrap());
    }
    // Rotation by capture time: a new file once a record is 10 s after its file's first.
    let timed = dir.path().join("timed");
    let o = tcpaudit()
        .args(["analyze", "--rotate-seconds", "10", "-f", "parquet", "-o"])
        .arg(&timed)
        .arg(fixture("generated/mixed.pcap"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let count = r#"
import duckdb, sys
print(duckdb.sql(f"select count(*), count(distinct filename) from read_parquet('{sys.argv[1]}/connections-*.parquet', filename=true)").fetchall()[0])
"#;
    let got = python(count, &[timed.to_str().unwrap()]);
    let (rows, files) = got
        .trim()
        .trim_matches(['(', ')'])
        .split_once(", ")
        .unwrap();
    assert_eq!(rows.parse::<usize>().unwrap(), conns.len());
    assert!(files.parse::<usize>().unwrap() > 1, "{got}");
}

/// Each connection's `first_ts` in nanoseconds, from the text of the JSON number (a parsed
/// double would lose digits).
fn exact_first_ts() -> BTreeMap<u64, i64> {
    let text = run(&["-f", "json"]);
    let field = |line: &str, key: &str| -> String {
        let rest = line.split(&format!("\"{key}\":")).nth(1).unwrap();
        rest.split([',', '}']).next().unwrap().to_string()
    };
    text.lines()
        .filter(|l| l.starts_with("{\"type\":\"connection\""))
        .map(|l| {
            let ts = field(l, "first_ts");
            let (whole, frac) = ts.split_once('.').unwrap();
            let ns = whole.parse::<i64>().unwrap() * 1_000_000_000
                + format!("{frac:0<9}").parse::<i64>().unwrap();
            (field(l, "id").parse().unwrap(), ns)
        })
        .collect()
}

/// `-o` where it means nothing and `-f parquet` without it are argument errors.
#[test]
fn output_directory_misuse_is_an_argument_error() {
    for (args, says) in [
        (&["-f", "parquet"][..], "give their directory with -o DIR"),
        (&["-f", "json", "-o", "/tmp/x"][..], "-o DIR is for"),
    ] {
        let out = tcpaudit()
            .arg("analyze")
            .args(args)
            .arg(fixture("generated/mixed.pcap"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// README's "At scale" example: its commands run as written, and its query, run by DuckDB over
/// their output, gives the table the README shows.
#[test]
fn the_readmes_at_scale_example_gives_its_table() {
    if !python_with("duckdb") {
        return;
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("\n## At scale\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let block = |lang: &str| -> String {
        section
            .split(&format!("```{lang}\n"))
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap()
            .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(fixture(""), dir.path().join("fixtures")).unwrap();
    for line in block("sh").lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "tcpaudit", "{line}");
        let out = tcpaudit()
            .args(&words[1..])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sql = dir.path().join("query.sql");
    std::fs::write(&sql, block("sql")).unwrap();
    let script = r#"
import duckdb, sys
for row in duckdb.sql(open(sys.argv[1]).read()).fetchall():
    print("| " + " | ".join(str(v) for v in row) + " |")
"#;
    let out = Std::new("python3")
        .args(["-c", script])
        .arg(&sql)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout).unwrap();
    let shown: Vec<&str> = section
        .split("```\n\n| listener")
        .nth(1)
        .unwrap()
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), shown);
}
