//! `tripline token create|revoke`.

use std::process::ExitCode;

use clap::Subcommand;

use super::*;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it (once).
    Create {
        /// Token name (shown in the UI and the action audit trail).
        name: String,
        /// viewer (read-only) or admin (approves actions).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Store (default: the agent's default store).
        #[arg(long, env = "TRIPLINE_STORE")]
        store: Option<String>,
    },
    /// Revoke a token by name.
    Revoke {
        /// Token name.
        name: String,
        /// Store (default: the agent's default store).
        #[arg(long, env = "TRIPLINE_STORE")]
        store: Option<String>,
    },
}

/// Runs `tripline token`.
pub(crate) fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create { name, role, store } => {
            let Some(role) = tripline_store::auth::Role::parse(&role) else {
                return usage(format!("--role '{role}': expected viewer or admin"));
            };
            let mut s = tripline_store::Store::open(&store_or_default(store))?;
            let token = s.create_token(&name, role)?;
            tripline::outln!("{token}");
            eprintln!(
                "tripline: token '{name}' ({}) created; it is shown only now",
                role.as_str()
            );
        }
        TokenCommand::Revoke { name, store } => {
            let mut s = tripline_store::Store::open(&store_or_default(store))?;
            if !s.revoke_token(&name)? {
                eprintln!("tripline: no token named '{name}'");
                return Ok(ExitCode::from(1));
            }
            eprintln!("tripline: token '{name}' revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
