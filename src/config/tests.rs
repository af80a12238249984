//! Tests of option parsing and resolution.
use super::*;

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn no_options_resolve_to_the_core_defaults() {
    // A record format: the core's default record carries Zeek's view.
    let cfg = AnalysisOpts::from_args(&args(&["-f", "json"]))
        .unwrap()
        .config()
        .unwrap();
    assert_eq!(
        format!("{cfg:?}"),
        format!("{:?}", AnalyzerConfig::default()),
        "the clap defaults are read from the core's Default impls"
    );
    // The terminal tables do not show Zeek's view, so the run does not emulate it; nothing
    // else differs.
    let mut table = AnalysisOpts::from_args(&[]).unwrap().config().unwrap();
    assert!(!table.flow.zeek_view);
    table.flow.zeek_view = true;
    assert_eq!(format!("{table:?}"), format!("{cfg:?}"));
}

#[test]
fn messages_name_the_option() {
    let err = |w: &[&str]| AnalysisOpts::from_args(&args(w)).unwrap_err().to_string();
    assert_eq!(
        err(&["--msl=-3"]),
        "--msl must be a non-negative number of seconds, not -3"
    );
    assert_eq!(
        err(&["--max-connections=0"]),
        "--max-connections must be at least 1"
    );
    assert_eq!(
        err(&["--flood-window=20"]),
        "--flood-window must be between 1 and 16 seconds, not 20"
    );
    assert_eq!(
        err(&["--zeek-server-ports=80,x"]),
        "--zeek-server-ports takes port numbers separated by commas, not '80,x'"
    );
    assert!(err(&["--mls=3"]).starts_with("unexpected argument '--mls"));
}

#[test]
fn port_lists_are_leaked_once() {
    let ports = |list: &str| {
        AnalysisOpts::from_args(&args(&[&format!("--zeek-server-ports={list}")]))
            .unwrap()
            .config()
            .unwrap()
            .detect
            .zeek_server_ports
    };
    let a = ports("22, 8080");
    let b = ports("22,8080");
    assert_eq!(a, &[22, 8080]);
    assert!(std::ptr::eq(a, b), "the same list is interned once");
    assert_eq!(ports("none"), &[] as &[u16]);
    assert_eq!(ports("9090"), &[9090]);
}

#[test]
fn live_requests_are_checked() {
    let req = |refresh: f64, duration: Option<f64>| LiveRequest {
        interface: "lo",
        filter: None,
        backend: BackendArg::Auto,
        snaplen: 10,
        promiscuous: true,
        buffer_mib: 0,
        refresh,
        duration,
    };
    let ok = req(2.0, Some(1.5)).resolve().unwrap();
    assert_eq!(ok.capture.snaplen, 64);
    assert_eq!(ok.capture.buffer_bytes, 1 << 20);
    assert_eq!(ok.duration, Some(std::time::Duration::from_millis(1500)));
    assert_eq!(
        req(0.05, None).resolve().unwrap_err().to_string(),
        "--refresh must be at least 0.1 seconds, not 0.05"
    );
    assert_eq!(
        req(1.0, Some(0.0)).resolve().unwrap_err().to_string(),
        "--duration must be a positive number of seconds, not 0"
    );
    assert!(tolerance(0.0).is_ok());
    assert_eq!(
        tolerance(-1.0).unwrap_err().to_string(),
        "--tolerance must be a non-negative fraction, not -1"
    );
}

#[test]
fn sizes_take_binary_suffixes() {
    assert_eq!(parse_size("1G"), Ok(1 << 30));
    assert_eq!(parse_size("256M"), Ok(256 << 20));
    assert_eq!(parse_size("512KiB"), Ok(512 << 10));
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("2gb"), Ok(2 << 30));
    for bad in ["", "0", "M", "-1G", "1T", "1.5G"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}
