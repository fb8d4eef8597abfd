//! git's index file read directly (`git::index_file::parse`) on arbitrary bytes: never a panic
//! for either id length, and every entry it reports lies inside the file with an id of that
//! length (a corrupt or truncated index must send the caller to libgit2, not crash it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustassistant::git::index_file;

fuzz_target!(|data: &[u8]| {
    for oid_len in [20, 32] {
        let mut entries = 0usize;
        let _ = index_file::parse(data, oid_len, |e| {
            assert_eq!(e.oid.len(), oid_len);
            assert!(e.stage <= 3);
            entries += 1;
        });
        // Each entry takes at least its fixed part and a NUL.
        assert!(entries <= data.len() / (43 + oid_len));
    }
});
