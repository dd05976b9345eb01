#!/usr/bin/env python3
"""Independent count of operations, models and events per release, straight from the JSON.

Regenerate with: python3 ari-spec/tests/data/count.py > ari-spec/tests/data/counts.tsv
"""
import json, os, sys

corpus = os.path.join(os.path.dirname(__file__), "..", "..", "corpus")
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(corpus, "releases.tsv"))][1:]
print("release\toperations\tmodels\tevents")
for release, rev in rows:
    d = os.path.join(corpus, rev)
    listing = json.load(open(os.path.join(d, "resources.json")))
    ops = 0
    models = {}
    for api in listing["apis"]:
        name = api["path"].split("/")[-1].replace(".{format}", "")
        decl = json.load(open(os.path.join(d, "api-docs", name + ".json")))
        ops += sum(len(a["operations"]) for a in decl["apis"])
        models.update(decl.get("models", {}))
    # Events: the subtypes of Event, transitively, whether a parent lists them in `subTypes` or
    # they name their parent with `extends` (12.0.0-12.6.0 do both for three recording events).
    children = {}
    for name, m in models.items():
        for s in m.get("subTypes", []):
            children.setdefault(name, set()).add(s)
        if "extends" in m:
            children.setdefault(m["extends"], set()).add(name)
    events = set()
    todo = ["Event"]
    while todo:
        for s in children.get(todo.pop(), ()):
            if s not in events:
                events.add(s)
                todo.append(s)
    print(f"{release}\t{ops}\t{len(models)}\t{len(events)}")
