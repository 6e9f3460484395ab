#!/bin/sh
# Converted-vs-native comparison script for the git image: init, add, commit
# with fixed identities and dates (so hashes are deterministic), branch,
# merge, log, diff, in /tmp. Output must be deterministic.
set -eu
export LC_ALL=C HOME=/tmp/home TZ=UTC GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
mkdir -p "$HOME"
n=0
tick() { # a fixed, increasing date per commit
  n=$((n + 1))
  GIT_AUTHOR_DATE="@$((1704067200 + n * 3600)) +0000"
  GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
  export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
}
cd /tmp
git init -q -b main repo
cd repo
git config core.autocrlf false
echo "== first commit"
seq 1 100 > numbers.txt
printf 'hello\nworld\n' > greeting.txt
mkdir -p src/lib
for i in 1 2 3 4 5; do printf 'int f%d(void) { return %d; }\n' "$i" "$i" > "src/lib/f$i.c"; done
git add .
tick; git commit -q -m "initial import"
git rev-parse HEAD
git ls-files
echo "== branch and change"
git checkout -q -b feature
sed -i 's/^50$/fifty/' numbers.txt
echo "feature line" >> greeting.txt
git rm -q src/lib/f3.c
tick; git commit -q -am "feature: change numbers and greeting"
git checkout -q main
echo "main line" > main.txt
git add main.txt
tick; git commit -q -m "main: add main.txt"
git branch -v --no-abbrev
echo "== merge"
tick; git merge -q --no-edit feature
git log --graph --oneline --all
git log --format='%H %an <%ae> %ad %cn %cd %s' --date=iso-strict
echo "== diff"
git diff HEAD~2 HEAD --stat
git diff HEAD~2 HEAD -- numbers.txt greeting.txt
git diff --name-status main~1 feature
echo "== status, tags, show"
echo "untracked" > new.txt
echo "more" >> numbers.txt
git status --short --branch
git stash -q
tick; git tag -a v1.0 -m "release 1.0"
git describe --tags
git show --stat --format='%s' v1.0 | head -8
git cat-file -p "HEAD^{tree}"
echo "== gc and fsck"
git gc -q
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --no-progress --full 2>&1 && echo "fsck ok"
echo "== clone"
cd /tmp && git clone -q repo clone && cd clone
git log --oneline | wc -l
git rev-parse HEAD
echo "== done"
