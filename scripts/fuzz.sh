#!/usr/bin/env bash
# make fuzz: runs every go test -fuzz target of the project for FUZZTIME
# (default 20s) each. Targets are found by name (func FuzzXxx) in *_test.go.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${FUZZTIME:-20s}
status=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "== $pkg $name ($T)"
  if ! go test -run "^$" -fuzz "^${name}\$" -fuzztime "$T" -fuzzminimizetime=2s "$pkg"; then
    status=1
  fi
done < <(grep -rhoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --with-filename . | sed 's/func //' | sort -u)
exit $status
