#!/usr/bin/env python3
"""Prints the layer blob paths of an OCI layout's first manifest, in order."""
import json, os, sys
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
blob = lambda dg: os.path.join(d, "blobs", *dg.split(":"))
m = json.load(open(blob(idx["manifests"][0]["digest"])))
for l in m["layers"]:
    print(blob(l["digest"]))
