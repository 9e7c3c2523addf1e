#!/usr/bin/env python3
"""Build the seattle-99 fixture (hosts.csv, rtt.csv) from the three raw slices.

Raw input: raw/SeattleData_{1,344,688}.csv, copied verbatim from
uofa-rzhu3/NetLatency-Data (MIT) at commit d0497aadff75430f655e34d2bfe2471d45ed83a2,
files Seattle/SeattleData_{1,344,688}. Each is a 99x99 matrix of RTTs in seconds
(rounded to 10 ms); entry (i, j) is the RTT measured from host i to host j; 0 off the
diagonal means "not measured".

Output:
  hosts.csv  id,name,lat,lon   se0..se98, no coordinates
  rtt.csv    src,dst,rtt_ms    for each directed pair i != j, the median of the
                               slices' non-zero values, in ms (at most 1 decimal);
                               pairs with no non-zero value in any slice are left out.

Usage: python3 build.py [--check-against PATH_TO_SEATTLE40_RTT_CSV]
"""
import os
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
SLICES = (1, 344, 688)
N = 99


def load(slice_no):
    path = os.path.join(HERE, "raw", f"SeattleData_{slice_no}.csv")
    with open(path) as f:
        rows = [line.rstrip("\r\n") for line in f if line.strip()]
    if len(rows) != N:
        sys.exit(f"{path}: {len(rows)} rows, expected {N}")
    mat = []
    for r, line in enumerate(rows):
        cells = line.split(",")
        if len(cells) != N:
            sys.exit(f"{path}: row {r} has {len(cells)} values, expected {N}")
        mat.append([Decimal(c) for c in cells])
    return mat


def median(vals):
    vals = sorted(vals)
    n = len(vals)
    if n % 2:
        return vals[n // 2]
    return (vals[n // 2 - 1] + vals[n // 2]) / 2


def fmt_ms(ms):
    # at most 1 decimal: 120 -> "120", 12.5 -> "12.5"
    q = ms.quantize(Decimal("0.1"))
    if q == q.to_integral_value():
        return str(int(q))
    return format(q, "f")


def build():
    mats = [load(s) for s in SLICES]
    rtt = {}
    missing = []
    for i in range(N):
        for j in range(N):
            if i == j:
                continue
            vals = [m[i][j] * 1000 for m in mats if m[i][j] != 0]
            if vals:
                rtt[(i, j)] = median(vals)
            else:
                missing.append((i, j))
    return rtt, missing


def write(rtt):
    with open(os.path.join(HERE, "hosts.csv"), "w", newline="\n") as f:
        f.write("id,name,lat,lon\n")
        for i in range(N):
            f.write(f"se{i},se{i},,\n")
    with open(os.path.join(HERE, "rtt.csv"), "w", newline="\n") as f:
        f.write("src,dst,rtt_ms\n")
        for (i, j), ms in sorted(rtt.items()):
            f.write(f"se{i},se{j},{fmt_ms(ms)}\n")


def check(rtt, ref_path):
    """Compare with the seattle-40 fixture (built the same way from rows/cols 0..39)."""
    ref = {}
    with open(ref_path) as f:
        header = f.readline().strip()
        assert header == "src,dst,rtt_ms", header
        for line in f:
            s, d, v = line.strip().split(",")
            ref[(int(s[2:]), int(d[2:]))] = Decimal(v)
    ours = {k: v for k, v in rtt.items() if k[0] < 40 and k[1] < 40}
    match = sum(1 for k, v in ref.items() if k in ours and Decimal(fmt_ms(ours[k])) == v)
    differ = [(k, ref[k], ours[k]) for k in ref if k in ours and Decimal(fmt_ms(ours[k])) != ref[k]]
    only_ref = sorted(set(ref) - set(ours))
    only_ours = sorted(set(ours) - set(ref))
    print(f"seattle-40 check: ref pairs {len(ref)}, our pairs among se0..se39 {len(ours)}, "
          f"matching {match}, differing {len(differ)}, only in ref {len(only_ref)}, "
          f"only in ours {len(only_ours)}")
    for k, a, b in differ[:20]:
        print(f"  differ se{k[0]}->se{k[1]}: ref {a}, ours {fmt_ms(b)}")
    for k in only_ours[:20]:
        print(f"  only ours: se{k[0]}->se{k[1]}")
    for k in only_ref[:20]:
        print(f"  only ref: se{k[0]}->se{k[1]}")
    return not differ and not only_ref and not only_ours


def main():
    rtt, missing = build()
    print(f"directed pairs: {N * (N - 1)}, kept {len(rtt)}, left out {len(missing)}")
    for i, j in missing:
        print(f"  left out: se{i}->se{j}")
    if "--check-against" in sys.argv:
        ok = check(rtt, sys.argv[sys.argv.index("--check-against") + 1])
        if not ok:
            sys.exit("consistency check with seattle-40 FAILED; nothing written")
    write(rtt)
    print("wrote hosts.csv, rtt.csv")


if __name__ == "__main__":
    main()
