//! A pack of whole blobs and its index, written straight into the object database.
//!
//! The pre-commit hook stages a few hundred shards at once; as loose objects they would be a
//! few hundred files. The index is written from what building the pack already knows (each
//! object's id, offset, and the CRC-32 of its bytes in the pack), and both files go into the
//! object directory git was told to use (`GIT_OBJECT_DIRECTORY`), where libgit2's pack writer
//! writes only into the repository's own. Measured against libgit2's writer on the hook of 100
//! modified files the two are within noise (BENCHMARKS.md, stand-ins): the reason to keep this
//! is the object directory, and a test holds the index byte for byte equal to `git index-pack`'s.
//!
//! Formats as git documents them (gitformat-pack): pack version 2 holding whole objects only,
//! no deltas (`git gc` finds those later); index version 2. The files are installed as `git
//! index-pack` installs them: each written under a `tmp_` name (which `git gc` cleans up if
//! left behind) and renamed, the pack before its index, since git and libgit2 find packs by
//! their index.

use std::io::Write as _;
use std::path::Path;

use git2::ObjectFormat;

/// Objects at offsets from here on would need index version 2's table of large offsets; a
/// pack that large is refused (its caller writes loose objects instead).
const MAX_OFFSET: u64 = 1 << 31;

/// A pack being made, and what its index needs.
pub struct Pack {
    bytes: Vec<u8>,
    /// Per object in pack order: raw id, offset of its header, CRC-32 of its bytes.
    objects: Vec<(Vec<u8>, u32, u32)>,
    format: ObjectFormat,
}

/// The raw object id of a blob holding `bytes`, as `git hash-object` computes it.
pub fn blob_id(bytes: &[u8], format: ObjectFormat) -> Vec<u8> {
    let header = format!("blob {}\0", bytes.len());
    digest(format, &[header.as_bytes(), bytes])
}

/// The repository's hash of the concatenated `parts`.
fn digest(format: ObjectFormat, parts: &[&[u8]]) -> Vec<u8> {
    if format == ObjectFormat::Sha1 {
        use sha1::Digest as _;
        let mut h = sha1::Sha1::new();
        parts.iter().for_each(|p| h.update(p));
        h.finalize().to_vec()
    } else {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        parts.iter().for_each(|p| h.update(p));
        h.finalize().to_vec()
    }
}

impl Pack {
    /// A pack holding `blobs` (whose raw ids are `ids`, in the same order; no blob twice: an
    /// index counts every object of its pack) as whole objects, compressed at zlib's fastest
    /// level.
    pub fn of_blobs(
        blobs: &[&[u8]],
        ids: Vec<Vec<u8>>,
        format: ObjectFormat,
    ) -> std::io::Result<Pack> {
        assert_eq!(blobs.len(), ids.len(), "one id per blob");
        let mut pack = Vec::new();
        pack.extend_from_slice(b"PACK");
        pack.extend_from_slice(&2u32.to_be_bytes());
        let count = u32::try_from(blobs.len())
            .map_err(|_| std::io::Error::other("too many objects for one pack"))?;
        pack.extend_from_slice(&count.to_be_bytes());
        // One compressor for every blob, reset between them: making one allocates and zeroes
        // a few hundred kilobytes of tables, which for a commit's 160 shards of 3 kB was most
        // of the pack's cost (callgrind: 42 M of the hook's 392 M instructions).
        let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
        let mut objects = Vec::with_capacity(blobs.len());
        for (blob, id) in blobs.iter().zip(ids) {
            let offset = u32::try_from(pack.len())
                .ok()
                .filter(|&o| u64::from(o) < MAX_OFFSET)
                .ok_or_else(|| std::io::Error::other("too large for one pack"))?;
            // Object header: type (3, blob) and size, seven bits a byte after the first four.
            let mut size = blob.len();
            let mut byte = (3u8 << 4) | (size & 0x0f) as u8;
            size >>= 4;
            while size > 0 {
                pack.push(byte | 0x80);
                byte = (size & 0x7f) as u8;
                size >>= 7;
            }
            pack.push(byte);
            z.reset();
            let start = z.total_in();
            loop {
                let done = (z.total_in() - start) as usize;
                // Room for the stream's worst case (stored blocks, header and checksum).
                pack.reserve(blob.len() - done + blob.len() / 1000 + 64);
                let status = z
                    .compress_vec(&blob[done..], &mut pack, flate2::FlushCompress::Finish)
                    .map_err(std::io::Error::other)?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
            }
            let mut crc = flate2::Crc::new();
            crc.update(&pack[offset as usize..]);
            objects.push((id, offset, crc.sum()));
        }
        let sum = digest(format, &[&pack]);
        pack.extend_from_slice(&sum);
        Ok(Pack {
            bytes: pack,
            objects,
            format,
        })
    }

    /// The pack's bytes, its checksum last.
    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The pack's checksum, which names its files.
    fn checksum(&self) -> &[u8] {
        let len = if self.format == ObjectFormat::Sha1 {
            20
        } else {
            32
        };
        &self.bytes[self.bytes.len() - len..]
    }

    /// The pack's index (version 2): the objects' ids in order with a fan-out table over
    /// their first byte, then each one's CRC-32 and offset in the same order, then the
    /// pack's checksum and the index's own.
    pub fn index(&self) -> Vec<u8> {
        let mut order: Vec<&(Vec<u8>, u32, u32)> = self.objects.iter().collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut idx = Vec::with_capacity(8 + 1024 + order.len() * 44 + 64);
        idx.extend_from_slice(b"\xfftOc");
        idx.extend_from_slice(&2u32.to_be_bytes());
        let mut fanout = [0u32; 256];
        for o in &order {
            fanout[usize::from(o.0[0])] += 1;
        }
        let mut total = 0u32;
        for n in fanout {
            total += n;
            idx.extend_from_slice(&total.to_be_bytes());
        }
        for o in &order {
            idx.extend_from_slice(&o.0);
        }
        for o in &order {
            idx.extend_from_slice(&o.2.to_be_bytes());
        }
        for o in &order {
            idx.extend_from_slice(&o.1.to_be_bytes());
        }
        idx.extend_from_slice(self.checksum());
        let own = digest(self.format, &[&idx]);
        idx.extend_from_slice(&own);
        idx
    }

    /// Install the pack and its index in `objects/pack` under `objects_dir`, as `git
    /// index-pack` does. A pack of these very bytes already there is left as it is.
    pub fn install(&self, objects_dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = objects_dir.join("pack");
        // `git init` makes it, but nothing requires it to be kept while there is no pack.
        std::fs::create_dir_all(&dir)?;
        let name = crate::util::hex(self.checksum());
        let idx_path = dir.join(format!("pack-{name}.idx"));
        if idx_path.exists() {
            return Ok(());
        }
        let put = |prefix: &str, bytes: &[u8], to: &Path| -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new().prefix(prefix).tempfile_in(&dir)?;
            tmp.write_all(bytes)?;
            // Read-only, as git leaves pack files.
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o444))?;
            tmp.persist(to).map(drop).map_err(|e| e.error)
        };
        put(
            "tmp_pack_",
            &self.bytes,
            &dir.join(format!("pack-{name}.pack")),
        )?;
        put("tmp_idx_", &self.index(), &idx_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testing::noise;
    use crate::util::hex;

    fn git(dir: &Path, args: &[&str]) -> std::process::Output {
        crate::git::testing::git(dir, args, &[])
    }

    /// Blobs of every kind the header and stream must handle: empty, one line, sizes whose
    /// header takes one to three bytes, and bytes that do not compress (a stream longer than
    /// its input).
    fn blobs() -> Vec<Vec<u8>> {
        vec![
            Vec::new(),
            b"one line\n".to_vec(),
            vec![b'a'; 15],
            vec![b'b'; 16],
            vec![b'c'; 2047],
            vec![b'd'; 2048],
            "{\"k\":1}\n".repeat(5000).into_bytes(),
            noise(100_000, 7),
        ]
    }

    #[test]
    fn the_index_is_byte_for_byte_the_one_git_index_pack_writes() {
        for format in [ObjectFormat::Sha1, ObjectFormat::Sha256] {
            let dir = tempfile::tempdir().unwrap();
            let name = if format == ObjectFormat::Sha1 {
                "sha1"
            } else {
                "sha256"
            };
            let init = git(
                dir.path(),
                &["init", "-q", &format!("--object-format={name}")],
            );
            assert!(init.status.success());
            let blobs = blobs();
            let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
            let ids = refs.iter().map(|b| blob_id(b, format)).collect();
            let pack = Pack::of_blobs(&refs, ids, format).unwrap();
            let file = dir.path().join("p.pack");
            std::fs::write(&file, pack.bytes()).unwrap();
            let out = git(dir.path(), &["index-pack", "-o", "p.idx", "p.pack"]);
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let theirs = std::fs::read(dir.path().join("p.idx")).unwrap();
            assert_eq!(pack.index(), theirs, "{name}");
        }
    }

    #[test]
    fn blob_ids_are_the_ones_git_computes() {
        for (format, name) in [
            (ObjectFormat::Sha1, "sha1"),
            (ObjectFormat::Sha256, "sha256"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            assert!(git(
                dir.path(),
                &["init", "-q", &format!("--object-format={name}")]
            )
            .status
            .success());
            for b in blobs() {
                std::fs::write(dir.path().join("f"), &b).unwrap();
                let out = git(dir.path(), &["hash-object", "f"]);
                let id = hex(&blob_id(&b, format));
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id, "{name}");
            }
        }
    }

    #[test]
    fn an_installed_pack_is_read_by_git_and_installing_it_again_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(git(dir.path(), &["init", "-q"]).status.success());
        let blobs = blobs();
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let ids: Vec<Vec<u8>> = refs
            .iter()
            .map(|b| blob_id(b, ObjectFormat::Sha1))
            .collect();
        let pack = Pack::of_blobs(&refs, ids.clone(), ObjectFormat::Sha1).unwrap();
        let objects = dir.path().join(".git/objects");
        std::fs::remove_dir(objects.join("pack")).unwrap();
        pack.install(&objects).unwrap();
        let listing = || {
            let mut v: Vec<(String, u32)> = std::fs::read_dir(objects.join("pack"))
                .unwrap()
                .map(|e| {
                    use std::os::unix::fs::PermissionsExt as _;
                    let e = e.unwrap();
                    let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                    (e.file_name().to_string_lossy().into_owned(), mode)
                })
                .collect();
            v.sort();
            v
        };
        let first = listing();
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first
            .iter()
            .all(|(n, mode)| n.starts_with("pack-") && *mode == 0o444));
        pack.install(&objects).unwrap();
        assert_eq!(listing(), first);
        for (id, b) in ids.iter().zip(&blobs) {
            let id = hex(id);
            let out = git(dir.path(), &["cat-file", "blob", &id]);
            assert!(out.status.success(), "{id}");
            assert_eq!(&out.stdout, b);
        }
        let verify = git(
            dir.path(),
            &[
                "verify-pack",
                "-v",
                &format!(".git/objects/pack/{}", first[0].0),
            ],
        );
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let fsck = git(dir.path(), &["fsck", "--full", "--strict"]);
        assert!(
            fsck.status.success(),
            "{}",
            String::from_utf8_lossy(&fsck.stderr)
        );
    }
}
