//! User and group names, read from the host's `/etc/passwd` and `/etc/group`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// uid → name and gid → name maps, reloaded when the files change.
#[derive(Debug, Default)]
pub struct UserDb {
    root: PathBuf,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    stamp: Option<(std::time::SystemTime, std::time::SystemTime)>,
}

impl UserDb {
    /// Reads `ROOT/etc/passwd` and `ROOT/etc/group`.
    ///
    /// ```
    /// let db = tripline_syscall::users::UserDb::load("/");
    /// assert_eq!(db.user(0), Some("root"));
    /// ```
    pub fn load(root: impl AsRef<Path>) -> UserDb {
        let mut db = UserDb {
            root: root.as_ref().to_path_buf(),
            ..UserDb::default()
        };
        db.refresh();
        db
    }

    /// Fixed names, such as a capture's user list (never reloaded).
    ///
    /// ```
    /// let db = tripline_syscall::users::UserDb::from_lists([(0, "root".into())], []);
    /// assert_eq!((db.user(0), db.group(0)), (Some("root"), None));
    /// ```
    pub fn from_lists(
        users: impl IntoIterator<Item = (u32, String)>,
        groups: impl IntoIterator<Item = (u32, String)>,
    ) -> UserDb {
        UserDb {
            users: users.into_iter().collect(),
            groups: groups.into_iter().collect(),
            ..UserDb::default()
        }
    }

    /// Rereads the files if their modification times changed (no-op for fixed lists).
    pub fn refresh(&mut self) {
        if self.root.as_os_str().is_empty() {
            return;
        }
        let passwd = self.root.join("etc/passwd");
        let group = self.root.join("etc/group");
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stamp = mtime(&passwd).zip(mtime(&group));
        if stamp.is_some() && stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        self.users = parse(&passwd);
        self.groups = parse(&group);
    }

    /// Name of a uid.
    pub fn user(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    /// Name of a gid.
    pub fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
}

/// `name:x:id:...` lines into id → name (first name wins, like getpwuid).
fn parse(path: &Path) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return map;
    };
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(id) = id.parse() {
            map.entry(id).or_insert_with(|| name.to_string());
        }
    }
    map
}
