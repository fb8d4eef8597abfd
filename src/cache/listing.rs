//! Listing the shards of a place (with their stat data, stray files and leftovers of the
//! per-entry layout), the cheap check for that old layout, and the cache lock.

use std::path::Path;

use super::shard::{ShardId, SUFFIX};
use super::store::{Listing, Location, Place, Store};
use crate::util::TEMP_PREFIX;

/// Temporary files older than this are leftovers of a crashed writer, not a writer at work.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

impl Store {
    /// Every shard of `place`, with its stat data, plus stray files; stale temporary files are
    /// removed on the way. A symlinked cache folder is listed by nobody.
    pub fn list(&self, place: Place) -> Listing {
        let mut l = Listing::default();
        let base = self.place_dir(place);
        if place == Place::Tree && !self.is_real() {
            l.strays.push(base);
            return l;
        }
        let Ok(types) = std::fs::read_dir(&base) else {
            return l;
        };
        let mut types: Vec<_> = types.flatten().collect();
        types.sort_by_key(|d| d.file_name());
        for t in types {
            let name = t.file_name();
            let Ok(ft) = t.file_type() else { continue };
            let name = name.to_string_lossy();
            if ft.is_file() {
                if name.starts_with(TEMP_PREFIX) {
                    remove_if_stale(&t.path());
                } else if name != ".gitkeep" {
                    l.strays.push(t.path());
                }
                continue;
            }
            if !ft.is_dir() || !super::key::valid_type_name(&name) {
                l.strays.push(t.path());
                continue;
            }
            self.list_type(place, &name, &t.path(), &mut l);
        }
        l
    }

    fn list_type(&self, place: Place, ty: &str, dir: &Path, l: &mut Listing) {
        use std::os::unix::fs::MetadataExt;
        let Ok(items) = std::fs::read_dir(dir) else {
            return;
        };
        let mut items: Vec<_> = items.flatten().collect();
        items.sort_by_key(|d| d.file_name());
        for it in items {
            let name = it.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = std::fs::symlink_metadata(it.path()) else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) && meta.is_file() {
                remove_if_stale(&it.path());
                continue;
            }
            // `<type>/items/`: the type's item entries, in shards of their own.
            if meta.is_dir() && name == "items" && !super::key::is_items_type(ty) {
                self.list_type(place, &super::key::items_type(ty), &it.path(), l);
                continue;
            }
            if meta.is_dir() && name.len() == 2 && crate::util::is_lower_hex(&name) {
                l.old_layout += count_old_entries(&it.path());
                continue;
            }
            let shard = name
                .strip_suffix(SUFFIX)
                .and_then(|p| ShardId::from_rel(&format!("{ty}/{p}{SUFFIX}")));
            match shard {
                Some(shard) if meta.is_file() => l.shards.push((
                    Location { place, shard },
                    (meta.ino(), meta.len(), crate::util::fs::mtime_ns(&meta)),
                )),
                _ => l.strays.push(it.path()),
            }
        }
    }

    /// The one line that tells a user with the per-entry layout what to do, if they have it.
    pub fn old_layout_hint(&self) -> Option<String> {
        if !self.is_real() {
            return None;
        }
        // Cheap: the folder listings' file types, no stat per shard.
        let mut n = 0;
        for t in std::fs::read_dir(self.cache_dir()).ok()?.flatten() {
            if !t.file_type().is_ok_and(|f| f.is_dir()) {
                continue;
            }
            for it in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
                let name = it.file_name();
                let name = name.to_string_lossy();
                if name.len() == 2
                    && crate::util::is_lower_hex(&name)
                    && it.file_type().is_ok_and(|f| f.is_dir())
                {
                    n += count_old_entries(&it.path());
                }
            }
        }
        (n > 0).then(|| old_layout_message(n))
    }
}

/// The one line that says how to migrate `n` per-entry files.
pub fn old_layout_message(n: usize) -> String {
    format!(
        "{n} cache {} in the old one-file-per-entry layout, which this version does not read; run `rustassistant cache migrate` to move {} into shards (nothing is lost)",
        if n == 1 { "entry is" } else { "entries are" },
        if n == 1 { "it" } else { "them" }
    )
}

/// Per-entry files below an old `cache/<type>/<b0b1>/` folder.
fn count_old_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(".json") || n.ends_with(".json.zst")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Remove a temporary file a crashed writer left behind, once it is old enough that no live
/// writer can own it.
pub fn remove_if_stale(path: &Path) {
    let old = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            std::time::SystemTime::now()
                .duration_since(t)
                .unwrap_or_default()
                > STALE_TEMP_AGE
        })
        .unwrap_or(false);
    if old {
        let _ = std::fs::remove_file(path);
    }
}
