//! The JUnit XML report (`check --junit`), for CI systems that show test results: a test suite
//! per capture, a test case per expectation, an error case per capture that could not be read.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, SerializeError, TestCase, TestCaseStatus, TestSuite};

use super::CheckReport;

/// Why the JUnit report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// The report could not be rendered as XML.
    #[error(transparent)]
    Serialize(#[from] SerializeError),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] std::io::Error),
}

/// Writes the report as JUnit XML to `path`.
pub fn write(r: &CheckReport, path: &Path) -> Result<(), JunitError> {
    std::fs::write(path, to_xml(r)?)?;
    Ok(())
}

/// The report as JUnit XML: a test suite per capture, a test case per expectation.
pub fn to_xml(r: &CheckReport) -> Result<String, SerializeError> {
    let mut report = Report::new("tcpaudit check");
    for c in &r.captures {
        let mut suite = TestSuite::new(c.capture.as_str());
        suite.set_time(std::time::Duration::from_secs_f64(c.seconds));
        for e in &c.errors {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message(e.as_str()).set_type("capture error");
            let mut tc = TestCase::new("capture", st);
            tc.set_classname(c.capture.as_str());
            suite.add_test_case(tc);
        }
        for o in &c.outcomes {
            let st = if o.passed {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut body = o.details.join("\n");
                if let Some(h) = &o.hint {
                    body.push_str(&format!("\nsee: {h}"));
                }
                st.set_message(o.message.as_str())
                    .set_type("expectation")
                    .set_description(body.trim_start());
                st
            };
            let mut tc = TestCase::new(o.name.as_str(), st);
            tc.set_classname(c.capture.as_str());
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}
