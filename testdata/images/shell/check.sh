#!/bin/bash
# Converted-vs-native comparison script for the shell image: traps, subshells,
# pipes, here-documents, background jobs and wait, and a tar/gzip/xz round trip
# of a generated tree in /tmp. Output must be deterministic (no pids, times).
set -u
export LC_ALL=C
cd /tmp || exit 1

echo "== traps"
trap 'echo "EXIT trap ran (status $?)"' EXIT
trap 'echo "USR1 caught"' USR1
kill -USR1 $$
( trap 'echo "subshell TERM caught"; exit 7' TERM; kill -TERM $BASHPID; echo not reached ); echo "subshell status $?"
f() { trap 'echo "RETURN trap in f"' RETURN; echo "in f"; }
f; trap - RETURN
false || echo "ERR path ok"

echo "== subshells and pipes"
# the subshell assignment is meant to be lost
# shellcheck disable=SC2030,SC2031
{
x=outer; (x=inner; echo "sub x=$x")
echo "x=$x"
}
inner() { printf "deeper %s" "$(printf deepest)"; }; v="nested $(inner)"; echo "$v, length ${#v}"
seq 1 1000 | awk '{s+=$1} END {print "sum", s}' 2>/dev/null || seq 1 1000 | paste -sd+ | bc
seq 1 20 | grep -v 3 | sort -rn | head -4 | tr '\n' ' '; echo
printf '%s\n' b a c a | sort | uniq -c | sed 's/^ *//'
set -o pipefail; false | true; echo "pipefail status $?"; set +o pipefail
echo "PIPESTATUS: $(true | false | true; echo "${PIPESTATUS[*]}")"
mapfile -t arr < <(printf 'x%d\n' 1 2 3); echo "mapfile ${#arr[@]} ${arr[*]}"

echo "== here-documents"
name=world
cat <<EOT
hello $name
sum $((6 * 7))
EOT
cat <<'EOT'
literal $name $((1+1))
EOT
tr '[:lower:]' '[:upper:]' <<< "here string"
while read -r a b; do echo "read a=$a b=$b"; done <<EOT
one 1
two 2
EOT

echo "== jobs"
set -m 2>/dev/null
sleep 0.2 & j1=$!
(sleep 0.1; exit 3) &
wait %2; echo "wait %2 status $?"
wait %1; echo "wait %1 status $?"
wait "$j1"; echo "wait pid status $?"
pids=()
for i in 1 2 3 4; do (echo "job $i" > "/tmp/job.$i"; exit "$i") & pids+=($!); done
echo "jobs started ${#pids[@]}"
st=""; for j in "${pids[@]}"; do wait "$j"; st="$st $?"; done; echo "statuses$st"
cat /tmp/job.* | sort
set +m 2>/dev/null
coproc UPPER { tr '[:lower:]' '[:upper:]'; }
echo "coproc input" >&"${UPPER[1]}"; eval "exec ${UPPER[1]}>&-"
read -r line <&"${UPPER[0]}"; echo "coproc said: $line"; wait "$UPPER_PID" 2>/dev/null

echo "== archive round trip"
tree=/tmp/tree
letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
mkdir -p "$tree"
# the files are made with bash's builtins (printf, arithmetic, loops): the
# spawning of processes is tested above, and 1,000 of them here only cost
# time; seq's output is what the loop below prints
for d in $(seq 1 20); do
  mkdir -p "$tree/d$d/sub"
  for f in $(seq 1 25); do
    n=$(( (d * 997 + f * 131) % 20000 + 1 )) c=${letters:$(( (d + f) % 26 )):1}
    printf -v blk '%*s' 1000 ''; blk=${blk// /$c}
    { for ((i = n; i >= 1000; i -= 1000)); do printf '%s' "$blk"; done; printf '%s' "${blk:0:i}"; } > "$tree/d$d/f$f.txt"
    for ((i = d * f; i <= d * f + 300; i++)); do echo "$i"; done > "$tree/d$d/sub/n$f"
  done
done
ln -s ../d1/f1.txt "$tree/d2/link"
ln "$tree/d1/f2.txt" "$tree/d3/hard"
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }
echo "files $(find "$tree" -type f | wc -l) links $(find "$tree" -type l | wc -l) bytes $(du -sb --apparent-size "$tree" | cut -f1)"
orig=$(sums "$tree"); echo "tree sha256 $orig"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C /tmp -cf - tree | gzip -n -6 > /tmp/t.tar.gz
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C /tmp -cf - tree | xz -T1 -6 > /tmp/t.tar.xz
echo "gzip sha256 $(sha256sum < /tmp/t.tar.gz | cut -c1-64)"
echo "xz sha256 $(sha256sum < /tmp/t.tar.xz | cut -c1-64)"
gzip -t /tmp/t.tar.gz && xz -t /tmp/t.tar.xz && echo "integrity ok"
for c in gz xz; do
  mkdir -p "/tmp/x-$c"
  case $c in gz) gzip -dc /tmp/t.tar.gz ;; xz) xz -dc /tmp/t.tar.xz ;; esac | tar -C "/tmp/x-$c" -xf -
  got=$(sums "/tmp/x-$c/tree")
  [ "$got" = "$orig" ] && echo "$c round trip ok" || echo "$c round trip MISMATCH $got"
  echo "$c link -> $(readlink "/tmp/x-$c/tree/d2/link"), hard links $(stat -c %h "/tmp/x-$c/tree/d3/hard")"
done
tar -tzf /tmp/t.tar.gz | sort | sed -n '1p;100p;$p'
rm -rf "$tree" /tmp/x-gz /tmp/x-xz /tmp/t.tar.* /tmp/job.*
echo "left in /tmp: $(find /tmp -mindepth 1 | wc -l)"
echo "== done"
