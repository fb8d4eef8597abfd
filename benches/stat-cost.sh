#!/usr/bin/env bash
# What the kernel charges on this machine for the work no change of ours can remove: a system
# call, the stat of a file (looked up in its open folder, as `util::stat::Lstat` does, and by
# its whole path, as git does), and starting a process. BENCHMARKS.md quotes these as the floor
# of an all-cached run and of a one-file hit.
#
#   DIR=<a repository> benches/stat-cost.sh [BIN]    (BIN: a rustassistant build, for --version)
#
# Times the tracked files of DIR (`git ls-files`), three rounds, in a small C program (cc); the
# process start-ups as the median of 60 runs each, in turn (benches/alternate.sh), among them
# a hook shim (SHIM, default hooks/pre-commit; e.g. SHIM=<(git show REV:hooks/pre-commit)) with
# /bin/true as its binary: what the shim adds before the binary starts.
set -euo pipefail
DIR=$(realpath "${DIR:-.}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v cc >/dev/null || { echo "a C compiler (cc) is needed" >&2; exit 1; }
(cd "$DIR" && git ls-files -z) >"$WORK/files"
cat >"$WORK/t.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
int main(int argc, char **argv) {
    FILE *f = fopen(argv[2], "rb"); static char buf[1 << 26]; size_t len = fread(buf, 1, sizeof buf, f); fclose(f);
    static char *names[1 << 20]; int n = 0;
    for (size_t i = 0; i < len; i += strlen(buf + i) + 1) names[n++] = buf + i;
    if (chdir(argv[1]) != 0) return 1;
    double t0 = now();
    for (int i = 0; i < 100000; i++) syscall(SYS_getppid);
    printf("| a system call (getppid) | %.2f us |\n", (now() - t0) / 100000);
    struct stat st;
    for (int r = 0; r < 3; r++) {
        /* In its folder's open handle, reused while the folder stays the same (index order). */
        char dir[4096] = "\x01"; int fd = -1; double t = now();
        for (int i = 0; i < n; i++) {
            char *slash = strrchr(names[i], '/'); size_t dl = slash ? (size_t)(slash - names[i]) : 0;
            if (strncmp(dir, names[i], dl) != 0 || dir[dl] != 0) {
                if (fd >= 0) close(fd);
                memcpy(dir, names[i], dl); dir[dl] = 0;
                fd = open(dl ? dir : ".", O_PATH | O_DIRECTORY);
            }
            fstatat(fd, slash ? slash + 1 : names[i], &st, AT_SYMLINK_NOFOLLOW);
        }
        double a = (now() - t) / n; t = now();
        for (int i = 0; i < n; i++) lstat(names[i], &st);
        printf("| round %d: fstatat in the open folder / lstat of the path, %d files | %.2f / %.2f us |\n", r + 1, n, a, (now() - t) / n);
    }
    return 0;
}
C
cc -O2 -o "$WORK/t" "$WORK/t.c"
source "$(dirname "$0")/alternate.sh"
# The shim as `hooks install` writes it, with /bin/true where the installed binary goes; run
# with a PATH that holds no rustassistant, so that it falls back to /bin/true.
sed "s#@INSTALLED_BIN@#/bin/true#" "${SHIM:-$(dirname "$0")/../hooks/pre-commit}" >"$WORK/pre-commit"
chmod +x "$WORK/pre-commit"
starts=("/bin/true" "PATH=/usr/bin:/bin '$WORK/pre-commit'")
[ -z "${1:-}" ] || starts+=("'$1' --version")
read -r -a start_us < <(alternate_us 60 "${starts[@]}")
ms() { awk -v t="$1" 'BEGIN { printf "%.2f ms", t / 1000 }'; }
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ) · $DIR"
echo
echo "| what | cost |"
echo "|---|---:|"
"$WORK/t" "$DIR" "$WORK/files"
echo "| start a process: \`/bin/true\` | $(ms "${start_us[0]}") |"
echo "| the pre-commit shim, with \`/bin/true\` as its binary | $(ms "${start_us[1]}") |"
[ -z "${1:-}" ] || echo "| start a process: \`$(basename "$1") --version\` | $(ms "${start_us[2]}") |"
