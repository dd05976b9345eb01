#!/usr/bin/env python3
"""Checks captured event frames against the spec of the server that sent them: every property
the spec marks required is present, and no frame has a property the spec does not know.

    python3 bench/scripts/required-fields.py 22.10.0 tests/fixtures/events-22.10.1.jsonl
    python3 bench/scripts/required-fields.py 16.27.0 tests/fixtures/events-16.28.0.jsonl

(The spec revision is the newest at or before the server's release; see ari-spec/corpus.)
Exits non-zero when a required property is missing."""
import glob
import json
import os
import sys

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "ari-spec", "corpus")


def models(rev):
    files = glob.glob(os.path.join(CORPUS, rev, "api-docs", "*.json"))
    if not files:
        sys.exit(f"no spec files for {rev} under {CORPUS}")
    m = {}
    for f in files:
        with open(f) as fh:
            m.update(json.load(fh).get("models", {}))
    parent = {st: k for k, v in m.items() for st in v.get("subTypes", [])}
    return m, parent


def props(m, parent, name):
    out = {}
    while name in m:
        for k, v in m[name].get("properties", {}).items():
            out.setdefault(k, v)
        name = m[name].get("extends") or parent.get(name)
    return out


def main(rev, fixture):
    m, parent = models(rev)
    missing, extra, frames = {}, {}, 0

    def walk(val, name):
        if name not in m or not isinstance(val, dict):
            return
        p = props(m, parent, name)
        for k, spec in p.items():
            if spec.get("required") and k not in val:
                missing[(name, k)] = missing.get((name, k), 0) + 1
            if k in val:
                t = spec.get("type", "")
                if t in m:
                    walk(val[k], t)
                elif t.startswith("List[") and t[5:-1] in m and isinstance(val[k], list):
                    for x in val[k]:
                        walk(x, t[5:-1])
        for k in val:
            if k not in p and k != "type":
                extra[(name, k)] = extra.get((name, k), 0) + 1

    with open(fixture) as fh:
        for line in fh:
            if line.strip():
                v = json.loads(line)
                frames += 1
                walk(v, v["type"])
    print(f"{fixture}: {frames} frames against spec {rev}")
    print(f"  required but missing: {sorted(missing.items()) or 'none'}")
    print(f"  not in the spec: {sorted(extra.items()) or 'none'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
