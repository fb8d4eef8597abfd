#!/usr/bin/env python3
"""User and system CPU time of commands, averaged over runs (getrusage of the children).

    benches/cpu-split.py RUNS -- CMD ARGS... [-- CMD ARGS...]

Run it in the repository to measure, e.g.
    cd <10k repo> && python3 /path/to/benches/cpu-split.py 40 -- rustassistant analyze --all -q -- git status --porcelain

Prints one line per command: mean user and system milliseconds. On a 2-core machine a run that
keeps both cores busy cannot be faster than (user + system) / 2, whatever its parallelism.
"""
import resource
import statistics
import subprocess
import sys

runs = int(sys.argv[1])
args = sys.argv[2:]
commands, cur = [], None
for a in args:
    if a == "--":
        cur = []
        commands.append(cur)
    elif cur is not None:
        cur.append(a)
for cmd in commands:
    user, system = [], []
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        user.append((r1.ru_utime - r0.ru_utime) * 1000)
        system.append((r1.ru_stime - r0.ru_stime) * 1000)
    print(f"{' '.join(cmd)}: user {statistics.mean(user):.2f} ms, system {statistics.mean(system):.2f} ms")
