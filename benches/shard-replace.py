#!/usr/bin/env python3
# Micro-benchmark behind src/cache/spare.rs: replacing 270 files of 3 KB (a 100-file commit's
# shards) four ways, on the filesystem of BENCH_DIR (default /tmp/ra-replace). Prints ms per
# round of 270, three rounds each. Linux only (renameat2 through libc).
#   python3 benches/shard-replace.py
import os, time, ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD=-100; RENAME_EXCHANGE=2
def exch(a,b):
    r = libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE)
    if r != 0: raise OSError(ctypes.get_errno(), "renameat2")
N=270; D=os.environ.get("BENCH_DIR", "/tmp/ra-replace"); data=[os.urandom(1500).hex().encode() for _ in range(N)]
def setup():
    os.system(f"rm -rf {D}/s {D}/p; mkdir -p {D}/s {D}/p")
    for i in range(N):
        with open(f"{D}/s/{i}","wb") as f: f.write(data[i])
        with open(f"{D}/p/{i}","wb") as f: f.write(data[i])
    os.sync(); time.sleep(0.5)
def base(i):
    t=f"{D}/s/.tmp{i}"
    with open(t,"wb") as f: f.write(data[(i+1)%N])
    os.rename(t,f"{D}/s/{i}")
def trunc_rename(i):
    p=f"{D}/p/{i}"
    with open(p,"r+b") as f: f.truncate(0); f.write(data[(i+1)%N])
    os.link(f"{D}/s/{i}", f"{D}/p/k{i}")
    os.rename(p,f"{D}/s/{i}")
def notrunc_rename(i):
    p=f"{D}/p/{i}"
    fd=os.open(p,os.O_WRONLY); os.pwrite(fd,data[(i+1)%N],0); os.ftruncate(fd,len(data[(i+1)%N])); os.close(fd)
    os.link(f"{D}/s/{i}", f"{D}/p/k{i}")
    os.rename(p,f"{D}/s/{i}")
def notrunc_exch(i):
    p=f"{D}/p/{i}"
    fd=os.open(p,os.O_WRONLY); os.pwrite(fd,data[(i+1)%N],0); os.ftruncate(fd,len(data[(i+1)%N])); os.close(fd)
    exch(p,f"{D}/s/{i}")
for name in sys.argv[1:] or ["base", "trunc_rename", "notrunc_rename", "notrunc_exch"]:
    fn=globals()[name]
    res=[]
    for rep in range(3):
        setup()
        t=time.perf_counter()
        for i in range(N): fn(i)
        res.append((time.perf_counter()-t)*1000)
    print(name, " ".join(f"{x:.1f}" for x in res), "ms for", N)
