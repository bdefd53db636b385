#!/bin/bash
# write_commit.cmake (CTest runtime.write_commit): in a scratch git repository, the header names
# HEAD, is left untouched (same mtime) while HEAD stays, follows a new commit, and says
# "unknown" outside a checkout; a given COMMIT (the image build's) wins over both.
set -euo pipefail
script=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
header=$scratch/out/iw_commit.h
write() { cmake -DSOURCE_DIR="$1" -DOUTPUT="$header" -P "$script"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

repo=$scratch/repo
git init -q "$repo"
commit() { git -C "$repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m "$1"; }
commit one
mkdir -p "$scratch/out"
write "$repo"
first=$(git -C "$repo" rev-parse --short=12 HEAD)
grep -qx "#define IW_COMMIT \"$first\"" "$header" || fail "header $(cat "$header") is not HEAD $first"

touch -d '2000-01-01' "$header"
write "$repo"
[[ $(stat -c %Y "$header") == $(date -d '2000-01-01' +%s) ]] || fail "rewritten with HEAD unchanged"

commit two
write "$repo"
second=$(git -C "$repo" rev-parse --short=12 HEAD)
[[ $second != "$first" ]] || fail "the scratch commits have one hash"
grep -qx "#define IW_COMMIT \"$second\"" "$header" || fail "header $(cat "$header") missed the new HEAD $second"

mkdir "$scratch/not-a-repo"
GIT_CEILING_DIRECTORIES=$scratch write "$scratch/not-a-repo"
grep -qx '#define IW_COMMIT "unknown"' "$header" || fail "outside a checkout: $(cat "$header")"

GIT_CEILING_DIRECTORIES=$scratch cmake -DSOURCE_DIR="$scratch/not-a-repo" -DOUTPUT="$header" \
  -DCOMMIT=0123456789ab -P "$script"
grep -qx '#define IW_COMMIT "0123456789ab"' "$header" || fail "COMMIT outside a checkout: $(cat "$header")"
cmake -DSOURCE_DIR="$repo" -DOUTPUT="$header" -DCOMMIT=0123456789ab -P "$script"
grep -qx '#define IW_COMMIT "0123456789ab"' "$header" || fail "COMMIT in a checkout: $(cat "$header")"
echo "write_commit: HEAD, untouched while unchanged, a new commit, unknown outside git, COMMIT"
