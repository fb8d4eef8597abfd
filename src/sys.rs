//! Every call that is specific to a platform, behind `cfg`, each with a portable fallback.
//!
//! The crate targets Unix (Linux with glibc or musl, macOS): POSIX calls that every one of them
//! has (`open` flags such as `O_NOFOLLOW`, `kill(pid, 0)`) live here too, so that the rest of
//! the crate never names `libc`. Setting `RUSTASSISTANT_PORTABLE=1` in the environment makes
//! every function with a Linux-only fast path take its fallback instead, so the test suite
//! runs the fallbacks on Linux as well.
//!
//! What callers may rely on: each function does what its doc says on every supported platform;
//! only its speed differs.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Whether the portable fallbacks were asked for (`RUSTASSISTANT_PORTABLE=1`), read once.
pub fn portable() -> bool {
    static PORTABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PORTABLE.get_or_init(|| {
        std::env::var_os("RUSTASSISTANT_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Whether the Linux fast paths are used: on Linux, unless [`portable`] asks for the fallbacks.
pub fn fast() -> bool {
    cfg!(target_os = "linux") && !portable()
}

/// What the hot paths need of a file's stat data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// A regular file (not a folder, link, device, FIFO or socket).
    pub is_file: bool,
    /// Size in bytes.
    pub len: u64,
    /// Inode.
    pub ino: u64,
    /// mtime: seconds and nanoseconds.
    pub mtime: (i64, i64),
    /// ctime seconds.
    pub ctime: i64,
}

impl Stat {
    /// Modification time in nanoseconds.
    pub fn mtime_ns(&self) -> i64 {
        self.mtime.0 * 1_000_000_000 + self.mtime.1
    }

    fn of(m: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt as _;
        Stat {
            is_file: m.file_type().is_file(),
            len: m.len(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: m.ctime(),
        }
    }
}

/// A folder open for looking names up in it ([`lstat_in`]): on Linux a handle (`O_PATH`), so
/// the kernel walks one component per lookup instead of the whole path; elsewhere its path.
pub struct Dir {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
}

/// Open the folder `path` for [`lstat_in`].
pub fn open_dir(path: &Path) -> io::Result<Dir> {
    #[cfg(target_os = "linux")]
    if fast() {
        use std::os::fd::FromRawFd as _;
        use std::os::unix::ffi::OsStrExt as _;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(Dir {
            path: path.to_path_buf(),
            // SAFETY: `fd` was just opened and nothing else owns it.
            fd: Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
        });
    }
    let m = std::fs::metadata(path)?;
    if !m.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    Ok(Dir {
        path: path.to_path_buf(),
        #[cfg(target_os = "linux")]
        fd: None,
    })
}

/// `lstat` of `name` (one path component, no NUL) in the open folder `dir`: a symbolic link at
/// the end is not followed.
pub fn lstat_in(dir: &Dir, name: &[u8]) -> io::Result<Stat> {
    #[cfg(target_os = "linux")]
    if let Some(fd) = &dir.fd {
        use std::os::fd::AsRawFd as _;
        let mut c = Vec::with_capacity(name.len() + 1);
        c.extend_from_slice(name);
        c.push(0);
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `c` is NUL-terminated with no NUL inside (the caller's contract; a NUL would
        // only shorten the name); `st` is written by the kernel on success.
        let rc = unsafe {
            libc::fstatat(
                fd.as_raw_fd(),
                c.as_ptr().cast(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fstatat returned 0, so it filled `st`.
        let st = unsafe { st.assume_init() };
        return Ok(Stat {
            is_file: st.st_mode & libc::S_IFMT == libc::S_IFREG,
            len: st.st_size as u64,
            ino: st.st_ino,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: st.st_ctime,
        });
    }
    use std::os::unix::ffi::OsStrExt as _;
    std::fs::symlink_metadata(dir.path.join(std::ffi::OsStr::from_bytes(name)))
        .map(|m| Stat::of(&m))
}

/// What a folder entry is, as [`read_folder`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// Anything else: a symbolic link (never followed), a device, a FIFO, a socket.
    Other,
}

/// Call `each` with the name and kind of every entry of the folder `path` (`.` and `..` left
/// out, names that are not UTF-8 too), until it returns `false`. An unreadable folder reports
/// nothing. On Linux no name is copied (`readdir`, the kind from the listing where the file
/// system records it); elsewhere `std::fs::read_dir`.
pub fn read_folder(path: &Path, mut each: impl FnMut(&str, Kind) -> bool) {
    #[cfg(target_os = "linux")]
    if fast() {
        return read_folder_linux(path, each);
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let kind = match e.file_type() {
            Ok(t) if t.is_file() => Kind::File,
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(_) => Kind::Other,
            Err(_) => continue,
        };
        if !each(name, kind) {
            break;
        }
    }
}

#[cfg(target_os = "linux")]
fn read_folder_linux(path: &Path, mut each: impl FnMut(&str, Kind) -> bool) {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `c` is a valid NUL-terminated path; a non-null stream is closed below.
    let dir = unsafe { libc::opendir(c.as_ptr()) };
    if dir.is_null() {
        return;
    }
    loop {
        // SAFETY: `dir` is an open stream; the entry stays valid until the next readdir or
        // closedir, and is not used after either.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid entry whose name is NUL-terminated.
        let (c_name, d_type) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()), (*ent).d_type) };
        let Ok(name) = std::str::from_utf8(c_name.to_bytes()) else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let kind = match d_type {
            libc::DT_REG => Kind::File,
            libc::DT_DIR => Kind::Dir,
            libc::DT_UNKNOWN => match std::fs::symlink_metadata(path.join(name)) {
                Ok(m) if m.is_file() => Kind::File,
                Ok(m) if m.is_dir() => Kind::Dir,
                Ok(_) => Kind::Other,
                Err(_) => continue,
            },
            _ => Kind::Other,
        };
        if !each(name, kind) {
            break;
        }
    }
    // SAFETY: `dir` is open and closed exactly once.
    unsafe { libc::closedir(dir) };
}

/// Whether `e` says a path ended in a symbolic link that an open refused to follow.
pub fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Open `path` for reading without following a symbolic link at its end, and without waiting
/// for a FIFO's writer or taking a terminal: the caller checks the type of what was opened.
pub fn open_read_no_follow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open `path` for reading, following links (the user named it), without waiting for a FIFO's
/// writer or taking a terminal: the caller checks the type of what was opened.
pub fn open_read_nonblocking(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open an existing `path` for writing without following a symbolic link at its end, and
/// without waiting for a FIFO's reader or taking a terminal. The caller checks the type.
pub fn open_write_no_follow(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open `path` for writing, following links (the user named it), without waiting for a FIFO's
/// reader to appear for longer than it takes to find none.
pub fn open_write_existing(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// Whether a process with id `pid` exists on this machine (it may belong to another user).
pub fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A token that tells this process apart from a later one that reuses its id: on Linux the
/// process's start time (field 22 of `/proc/self/stat`, in clock ticks since boot) with the
/// boot id; elsewhere (or with [`portable`]) empty, and only the id is compared.
pub fn process_token(pid: u32) -> String {
    #[cfg(target_os = "linux")]
    if !portable() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let start = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(19))
            .unwrap_or("");
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        if !start.is_empty() {
            return format!("{}:{start}", boot.trim());
        }
    }
    let _ = pid;
    String::new()
}

/// Whether the process that recorded `(pid, token)` (see [`process_token`]) still runs.
pub fn process_alive(pid: u32, token: &str) -> bool {
    if !process_exists(pid) {
        return false;
    }
    token.is_empty() || {
        let now = process_token(pid);
        now.is_empty() || now == token
    }
}

/// This machine's host name (empty when it cannot be read).
pub fn hostname() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most `len` bytes into the buffer it is given.
        let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if r != 0 {
            return String::new();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    })
    .clone()
}

/// The process umask, read without changing it (changing it to read it would race with other
/// threads creating files): from `/proc/self/status` on Linux; elsewhere 022, the usual value.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Some(m) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
            })
            .and_then(|v| u32::from_str_radix(&v, 8).ok())
        {
            return m;
        }
        0o022
    })
}

/// Extra heap reserved on every growth, by the main heap and by the threads' arenas alike
/// (without it, glibc made 2,600 `mprotect` calls growing the arenas of a 100,000-file run, 24
/// with it). Address space, not memory: pages are only mapped as they are touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: usize = 64 << 20;

/// Blocks from this size on get a mapping of their own (glibc's highest allowed value on
/// 64-bit: half its 64 MB arena size). Below it they come from the heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: usize = 32 << 20;

/// How the process asks glibc's allocator for memory (glibc on Linux only; elsewhere nothing).
///
/// A run allocates ten-thousands of small strings and a few lists of megabytes, all kept until
/// it ends. Left to its defaults, glibc grows the heap a few pages at a time, serves every block
/// over 128 kB from a fresh mapping, and the kernel then faults each 4 kB page in on first
/// touch: 2,500 page faults in an all-cached `analyze --all` of 10,000 files, against 660 for
/// `git status`. Here the heap grows in large steps, big blocks come from the heap (where freed
/// memory is reused), and the heap is marked for transparent huge pages, so the kernel maps it
/// 2 MB at a time where it has such pages to give (`transparent_hugepage=madvise`, the common
/// default; with `never` the mark is ignored, with `always` it is implied).
///
/// Only the main heap is marked. Worker threads allocate from arenas of their own, whose first
/// 2 MB already hold pages by the time a thread could mark them, and a worker of a 10,000-file
/// run allocates less than that: marking them was measured to change nothing.
///
/// What callers may rely on: it only changes allocator parameters and marks address
/// space; it allocates nothing that stays and never fails. Call it first thing in `main`,
/// before any thread exists.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if portable() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets allocator parameters; malloc/free of one block; sbrk(0) only reads
    // the break; madvise(MADV_HUGEPAGE) only marks a range of our own heap, which stays mapped.
    // Called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD as libc::c_int);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        // Never hand the top of the heap back while the run lasts.
        libc::mallopt(libc::M_TRIM_THRESHOLD, (2 * TOP_PAD) as libc::c_int);
        // Grow the heap once now (a block larger than what is left at its top, freed at once:
        // the heap keeps the pad), then mark what it spans.
        let lo = libc::sbrk(0) as usize;
        // (black_box: the compiler would drop an unused malloc/free pair.)
        let p = std::hint::black_box(libc::malloc(1 << 20));
        libc::free(p);
        let hi = libc::sbrk(0) as usize;
        let page = 4096;
        let start = (lo + page - 1) & !(page - 1);
        if lo != usize::MAX && hi > start {
            libc::madvise(start as *mut libc::c_void, hi - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// Exchange the names `a` and `b` atomically (both must exist).
#[cfg(target_os = "linux")]
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths; the syscall reads them and nothing else.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Exchange the names `a` and `b` atomically: not on this platform (callers fall back to a
/// temporary file renamed into place).
#[cfg(not(target_os = "linux"))]
pub fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_one_is_not() {
        let me = std::process::id();
        let token = process_token(me);
        assert!(process_alive(me, &token));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let child_token = process_token(pid);
        child.wait().unwrap();
        assert!(!process_alive(pid, &child_token));
        #[cfg(target_os = "linux")]
        if !portable() {
            assert!(!token.is_empty());
            assert!(
                !process_alive(me, "another-boot:1"),
                "a reused id is not us"
            );
        }
    }

    #[test]
    fn opens_refuse_a_link_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(is_symlink_refusal(&open_read_no_follow(&link).unwrap_err()));
        assert!(is_symlink_refusal(
            &open_write_no_follow(&link).unwrap_err()
        ));
        assert!(open_write_no_follow(&target).is_ok());
    }
}
