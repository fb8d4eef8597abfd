//! The entry format, key derivation, the shard format and the on-disk store.
//!
//! What callers may rely on:
//! - a [`Key`] is `(cache_type, blob, variant)`; a file entry lives in exactly one shard
//!   (`cache/<type>/<b0b1>.jsonl`, or the same name in the local overlay), an item entry in
//!   any shard of its type (`cache/homes.rs`);
//! - [`shard::render`] is deterministic: the same entries always give the same bytes;
//! - [`store::Store::lookup`] never trusts a line whose fields do not re-derive its own key.

pub mod assemble;
pub mod commit;
mod duplicates;
pub mod entry;
mod homes;
pub mod key;
pub mod layout;
pub mod listing;
pub mod lock;
pub mod migrate;
pub mod place;
mod policy;
pub mod reads;
pub mod shard;
pub mod spare;
pub mod store;

pub use entry::{Entry, EntryError, Tokens};
pub use key::{variant, Key, KNOWN_TYPES, LLM_TYPES, SCHEMA_VERSION};
pub use store::{Lookup, Store};

/// Why a signed-entries policy rejects `e`, if it does: no signature, no key to check it with,
/// or a signature that does not match.
pub fn signature_problem(e: &Entry, key: Option<&[u8]>) -> Option<String> {
    match (&e.signature, key) {
        (None, _) => Some("unsigned entry ([cache] require_signature = true)".into()),
        (Some(_), None) => {
            Some("cannot check the signature: RUSTASSISTANT_SIGNING_KEY is not set".into())
        }
        (Some(sig), Some(k)) => (sign(k, e) != *sig)
            .then(|| "bad signature (forged or signed with another key)".to_string()),
    }
}

/// HMAC-SHA256 (hex) of `entry`'s signing bytes under `key`.
pub fn sign(key: &[u8], entry: &Entry) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&entry.signing_bytes());
    crate::util::hex(&mac.finalize().into_bytes())
}
