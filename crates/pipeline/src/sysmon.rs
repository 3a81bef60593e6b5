//! Sysmon-for-Linux shaped events from live syscall events, so SigmaHQ's Linux rules
//! (`process_creation`, `file_event`, `network_connection`) run on the sensor unchanged.
//!
//! The field names are those of the Sigma taxonomy for these log sources (`Image`,
//! `CommandLine`, `ParentImage`, `User`, `TargetFilename`, `DestinationIp`, ...).

use serde_json::{json, Value};
use tripline_sigma::LogSource;
use tripline_syscall::{Kind, SyscallEvent};

/// The Sigma stream and event for a syscall event, when Sigma has a log source for it.
pub fn sysmon_event(ev: &SyscallEvent<'_>) -> Option<(LogSource, Value)> {
    if ev.is_enter() {
        return None;
    }
    let p = ev.process()?;
    let user = ev.user_name(p.euid).unwrap_or("").to_string();
    let kind = ev.kind()?;
    let linux = |category: &str| LogSource::new(Some(category), Some("linux"), None);
    match kind {
        Kind::Execve | Kind::Execveat if ev.ret() == 0 => {
            let mut command_line = p.exe.clone();
            for a in &p.args {
                command_line.push(' ');
                command_line.push_str(a);
            }
            let parent = ev.parent();
            let parent_cmd = parent.map(|q| {
                let mut c = q.exe.clone();
                for a in &q.args {
                    c.push(' ');
                    c.push_str(a);
                }
                c
            });
            Some((
                linux("process_creation"),
                json!({
                    "Image": p.exepath,
                    "CommandLine": command_line,
                    "CurrentDirectory": p.cwd,
                    "User": user,
                    "LogonId": p.loginuid,
                    "ProcessId": p.pid,
                    "ParentProcessId": p.ppid,
                    "ParentImage": parent.map(|q| q.exepath.clone()),
                    "ParentCommandLine": parent_cmd,
                    "ParentUser": parent.and_then(|q| ev.user_name(q.euid)),
                }),
            ))
        }
        Kind::Open | Kind::Openat | Kind::Openat2 | Kind::Creat if ev.ret() >= 0 => {
            let (_, fd) = ev.fd()?;
            // A file event is a file created or written (Sysmon event 11).
            if fd.flags & 0o100 == 0 && kind != Kind::Creat {
                return None;
            }
            Some((
                linux("file_event"),
                json!({
                    "TargetFilename": fd.name,
                    "Image": p.exepath,
                    "ProcessId": p.pid,
                    "User": user,
                }),
            ))
        }
        Kind::Connect | Kind::Accept | Kind::Accept4 => {
            let (_, fd) = ev.fd()?;
            let t = fd.sock.filter(|_| fd.kind.is_ip())?;
            let outbound = kind == Kind::Connect;
            Some((
                linux("network_connection"),
                json!({
                    "Image": p.exepath,
                    "User": user,
                    "ProcessId": p.pid,
                    "Protocol": if t.protocol == 17 { "udp" } else { "tcp" },
                    "Initiated": if outbound { "true" } else { "false" },
                    "SourceIp": if outbound { t.local } else { t.remote }.to_string(),
                    "SourcePort": if outbound { t.lport } else { t.rport },
                    "DestinationIp": if outbound { t.remote } else { t.local }.to_string(),
                    "DestinationPort": if outbound { t.rport } else { t.lport },
                    "DestinationIsIpv6": if t.family == 10 { "true" } else { "false" },
                    "SourceIsIpv6": if t.family == 10 { "true" } else { "false" },
                }),
            ))
        }
        _ => None,
    }
}
