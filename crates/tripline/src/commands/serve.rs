//! `tripline serve`: the UI and API over a store.

use std::process::ExitCode;

use super::*;

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Store to serve (default: the agent's default store).
    #[arg(long, env = "TRIPLINE_STORE")]
    pub(crate) store: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub(crate) listen: String,
    /// PEM certificate (chain) for HTTPS; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
}

/// Runs `tripline serve`.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let url = store_or_default(args.store);
    let act = tripline::act::Act::start(&tripline::act::ActConfig {
        store: Some(url),
        limits: Default::default(),
        outputs: Vec::new(),
        actions: Vec::new(),
        listen: Some(args.listen.clone()),
        execute_actions: false,
        mode: "serve".into(),
        overflow: tripline_pipeline::Overflow::Block,
        retention: Default::default(),
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(tripline_server::Tls { cert, key }),
            _ => None,
        },
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    act.finish();
    Ok(ExitCode::SUCCESS)
}
