#!/bin/sh
# The bundled example: a shell script with pipes, file reads and writes,
# run unmodified inside the (simulated) enclave by scone-run.
# shellcheck disable=SC2002,SC2018,SC2019 # pipes and ASCII classes on purpose
set -e
echo "hello from $(uname -m), running as uid $(id -u) in $(pwd)"
echo "planets sorted, from a data file in the protected FS:"
tr 'a-z' 'A-Z' < /app/planets.txt | sort | sed 's/^/  /'
echo "a secret only the enclave can read: $(cat /app/secret.txt)"
echo "written inside the enclave" > /tmp/note.txt
cat /tmp/note.txt | wc -c | sed 's/^ */bytes written and read back: /'
