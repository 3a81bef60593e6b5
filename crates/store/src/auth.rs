//! API tokens: generated once, shown once, stored only as a SHA-256 hash.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read findings, reports, health.
    Viewer,
    /// Also approve and reject actions, manage tokens.
    Admin,
}

impl Role {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    /// Parses `viewer` (or `read-only`) and `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" | "read-only" | "readonly" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: `tl_` and 43 URL-safe characters (256 bits from the OS).
pub fn generate_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::from("tl_");
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    Ok(out)
}

impl Store {
    /// Adds a token; returns the token text, which is never stored and cannot be shown again.
    pub fn create_token(&mut self, name: &str, role: Role) -> Result<String, StoreError> {
        let token = generate_token().map_err(|e| StoreError::Open {
            url: "/dev/urandom".into(),
            reason: e.to_string(),
        })?;
        self.db.exec(
            "INSERT INTO tokens (name, role, hash, created_ns) VALUES ($1, $2, $3, $4)",
            &[
                name.into(),
                role.as_str().into(),
                hash_token(&token).into(),
                crate::now_ns().into(),
            ],
        )?;
        Ok(token)
    }

    /// Whether any token exists (first start creates one).
    pub fn has_tokens(&mut self) -> Result<bool, StoreError> {
        Ok(crate::db::scalar(self.db.as_mut(), "SELECT COUNT(*) FROM tokens", &[])? > 0)
    }

    /// The name and role of the token with this text, if any.
    pub fn authenticate(&mut self, token: &str) -> Result<Option<(String, Role)>, StoreError> {
        let rows = self.db.query(
            "SELECT name, role FROM tokens WHERE hash = $1",
            &[hash_token(token).into()],
        )?;
        Ok(rows
            .first()
            .and_then(|r| Role::parse(r[1].text()).map(|role| (r[0].text().to_string(), role))))
    }

    /// Removes a token by name; returns whether it existed.
    pub fn revoke_token(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .exec("DELETE FROM tokens WHERE name = $1", &[name.into()])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let mut s = Store::open(":memory:").unwrap();
        let a = s.create_token("admin", Role::Admin).unwrap();
        let b = s.create_token("ui", Role::Viewer).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(
            s.authenticate(&a).unwrap(),
            Some(("admin".into(), Role::Admin))
        );
        assert_eq!(
            s.authenticate(&b).unwrap(),
            Some(("ui".into(), Role::Viewer))
        );
        assert_eq!(s.authenticate("tl_wrong").unwrap(), None);
        let stored = s.db().query("SELECT hash FROM tokens", &[]).unwrap();
        assert!(stored
            .iter()
            .all(|r| r[0].text() != a && r[0].text().len() == 64));
        assert!(s.revoke_token("ui").unwrap());
        assert_eq!(s.authenticate(&b).unwrap(), None);
    }
}
