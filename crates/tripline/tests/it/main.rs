//! Integration tests, compiled as one binary.

mod act;
mod anomaly;
mod aws;
mod browser;
mod cli;
mod drift;
mod expectations;
mod identity;
mod live;
mod okta;
mod parity;
mod robustness;
mod sensor;

/// Runs the built `tripline` with `args`.
pub fn tripline(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .output()
        .unwrap()
}

/// A run's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
