//! A blob id as the cache writes it: lower-case hex, 40 digits for SHA-1, 64 for SHA-256,
//! checked once where it is made, so the rest of the crate never meets a malformed one.

use std::fmt;

/// A git object id in lower-case hex. Equal ids are equal strings, and an id hashes as its string does (it can be looked up by
/// `&str` in a map keyed by ids, see `Borrow`).
#[derive(Clone, PartialEq, Eq)]
pub struct BlobId {
    s: String,
}

impl BlobId {
    /// The id of raw object-id bytes (20 for SHA-1, 32 for SHA-256); `None` for another length.
    pub fn from_raw(oid: &[u8]) -> Option<BlobId> {
        if oid.len() != 20 && oid.len() != 32 {
            return None;
        }
        Some(BlobId {
            s: crate::util::hex(oid),
        })
    }

    /// The id written as `hex`: 40 or 64 lower-case hex digits, `None` otherwise.
    pub fn parse(hex: &str) -> Option<BlobId> {
        let b = hex.as_bytes();
        if (b.len() != 40 && b.len() != 64)
            || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        Some(BlobId { s: hex.to_string() })
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.s
    }
}

impl From<git2::Oid> for BlobId {
    fn from(oid: git2::Oid) -> BlobId {
        BlobId::from_raw(oid.as_bytes()).expect("git object ids are 20 or 32 bytes")
    }
}

impl std::ops::Deref for BlobId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for BlobId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::hash::Hash for BlobId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for BlobId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for BlobId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<String> for BlobId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl serde::Serialize for BlobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ids_read_as_git_writes_them_and_others_are_refused() {
        let sha1 = git2::Oid::hash_object(git2::ObjectType::Blob, b"hello\n").unwrap();
        let id = BlobId::from(sha1);
        assert_eq!(id.as_str(), sha1.to_string());
        assert_eq!(BlobId::parse(&sha1.to_string()), Some(id.clone()));
        assert_eq!(format!("{id}"), sha1.to_string());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{sha1}\""));
        let sha256 = [0xabu8; 32];
        assert_eq!(BlobId::from_raw(&sha256).unwrap().as_str(), "ab".repeat(32));
        assert!(BlobId::from_raw(&[0u8; 21]).is_none());
        let map: std::collections::HashMap<BlobId, u8> = [(id.clone(), 7)].into();
        assert_eq!(map.get(sha1.to_string().as_str()), Some(&7));
        for bad in ["", "abc", &"A".repeat(40), &"g".repeat(40), &"0".repeat(41)] {
            assert!(BlobId::parse(bad).is_none(), "{bad}");
        }
    }
}
