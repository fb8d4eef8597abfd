#!/usr/bin/env python3
"""What a repository's packs hold, by kind of path: `benches/pack-by-path.py REPO`.

Joins `git verify-pack -v` (each object's size in the pack) with `git rev-list --objects --all`
(each object's path), and sums objects and packed bytes for source blobs, shard blobs, item
shard blobs (`.rustassistant/cache/<type>/items/`), their trees and commits. Used on the replay
repositories the `items` section keeps (`BENCH_DIR=… KEEP_REPO=1 benches/bench.sh items`).
"""
import collections
import glob
import subprocess
import sys


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout


def main(repo):
    names = {}
    for line in git(repo, "rev-list", "--objects", "--all").splitlines():
        oid, _, path = line.partition(" ")
        names[oid] = path
    packed = "".join(git(repo, "verify-pack", "-v", idx) for idx in glob.glob(f"{repo}/.git/objects/pack/*.idx"))
    size = collections.Counter()
    count = collections.Counter()
    for line in packed.splitlines():
        f = line.split()
        if len(f) < 5 or len(f[0]) != 40 or f[1] not in ("blob", "tree", "commit", "tag"):
            continue
        path = names.get(f[0], "")
        cache = path.startswith(".rustassistant")
        if f[1] == "blob":
            kind = "item shard blobs" if "/items/" in path else "cache blobs" if cache else "source blobs"
        elif f[1] == "tree":
            kind = "items/ trees" if path.endswith("/items") else "cache trees" if cache else "source trees"
        else:
            kind = f[1] + "s"
        size[kind] += int(f[3])
        count[kind] += 1
    for kind in sorted(size):
        print(f"{kind:18} {count[kind]:6} objects {size[kind] / 1024:9.1f} KiB")
    print(f"{'total':18} {sum(count.values()):6} objects {sum(size.values()) / 1024:9.1f} KiB")


if __name__ == "__main__":
    main(sys.argv[1])
