#!/usr/bin/env python3
"""Which code of a running process is resident: reads /proc/PID/pagemap (root) for the
executable's mappings, attributes each resident 4 KiB page to the symbols that lie in it (nm),
and sums the resident bytes per crate. Shows where a binary's file-backed RSS goes.

    sudo python3 bench/scripts/resident-code.py PID [TOP] [CRATE]

With CRATE (as printed, e.g. `core` or `ari_sdk::generated::events`), also lists that crate's
resident symbols, largest first, with their names shortened to 150 characters.
"""
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

pid = int(sys.argv[1])
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
detail = sys.argv[3] if len(sys.argv) > 3 else None
exe = os.readlink(f"/proc/{pid}/exe")
maps = []
with open(f"/proc/{pid}/maps") as fh:
    for line in fh:
        parts = line.split()
        if len(parts) >= 6 and parts[5] == exe:
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            maps.append((lo, hi, int(parts[2], 16), parts[1]))
base = min(lo - off for lo, _, off, _ in maps)  # load bias of the PIE

syms = []
out = subprocess.run(["nm", "-S", "-C", "--defined-only", exe], capture_output=True, text=True).stdout
for line in out.splitlines():
    p = line.split(" ", 3)
    if len(p) == 4 and p[2] in "tTrRdDbB":
        syms.append((int(p[0], 16), int(p[1], 16), p[3]))
syms.sort()
starts = [s[0] for s in syms]


def crate(name):
    m = re.match(r"[<_ ]*(?:impl )?(?:dyn )?([A-Za-z_][A-Za-z_0-9]*)", name)
    c = m.group(1) if m else "?"
    if c == "ari_sdk":
        m2 = re.match(r"[<_ ]*ari_sdk::([a-z_]+)(?:::([a-z_]+))?", name)
        if m2:
            c = "ari_sdk::" + m2.group(1) + ("::" + m2.group(2) if m2.group(2) else "")
    return c


resident = collections.Counter()
total = collections.Counter()
with open(f"/proc/{pid}/pagemap", "rb") as pm:
    for lo, hi, off, perm in maps:
        for page in range(lo, hi, 4096):
            pm.seek(page // 4096 * 8)
            (entry,) = struct.unpack("<Q", pm.read(8))
            present = bool(entry >> 63 & 1)
            kind = perm
            total[kind] += 4096
            if not present:
                continue
            resident[kind] += 4096
            # Bytes of each symbol inside this page.
            a, b = page - base, page - base + 4096
            i = max(bisect.bisect_right(starts, a) - 1, 0)
            while i < len(syms) and syms[i][0] < b:
                s, size, name = syms[i]
                overlap = min(b, s + size) - max(a, s)
                if overlap > 0:
                    c = crate(name)
                    resident["sym:" + c] += overlap
                    if c == detail:
                        resident["one:" + name[:150]] += overlap
                i += 1
for kind in sorted(k for k in total if not k.startswith(("sym:", "one:"))):
    print(f"{kind}: {resident[kind] / 1024:.0f} KiB resident of {total[kind] / 1024:.0f} KiB")
print("resident symbol bytes by crate:")
for name, n in sorted(((k[4:], v) for k, v in resident.items() if k.startswith("sym:")), key=lambda x: -x[1])[:top]:
    print(f"  {n / 1024:8.0f} KiB  {name}")
if detail:
    print(f"resident symbols of {detail}:")
    ones = sorted(((k[4:], v) for k, v in resident.items() if k.startswith("one:")), key=lambda x: -x[1])
    for name, n in ones[:top]:
        print(f"  {n / 1024:8.1f} KiB  {name}")
