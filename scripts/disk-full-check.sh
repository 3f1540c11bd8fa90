#!/usr/bin/env bash
# Real disk-full check of the folder-writing commands (needs root for mount): the previous output folder sits on a
# small tmpfs with too little room for the new one; each command must fail with a clear error and leave the previous
# folder byte-identical, with no temporary folder behind. Usage: scripts/disk-full-check.sh [path/to/PureLlama.Cli.dll]
set -u
CLI=${1:-src/PureLlama.Cli/bin/Release/net10.0/PureLlama.Cli.dll}
WORK=$(mktemp -d /tmp/purellama-diskfull-XXXXXX)
purellama() { dotnet "$CLI" "$@"; }
purellama fuzz --parser config --inputs 1 --corpus "$WORK/corpus" > /dev/null || { echo "cannot write the corpus"; exit 2; }
C="$WORK/corpus"
run() { # name, previous folder, command...
  local name=$1 prev=$2; shift 2
  local mnt="$WORK/mnt-$name"; mkdir -p "$mnt"
  local kb=$(( $(du -sk "$prev" | cut -f1) + 64 ))
  if ! mount -t tmpfs -o size=${kb}k tmpfs "$mnt" 2>/dev/null; then echo "| $name | (mount not permitted: skipped) |"; return; fi
  cp -r "$prev" "$mnt/out"
  local before; before=$(cd "$mnt/out" && find . -type f -exec sha256sum {} + | sort)
  local err; err=$("$@" 2>&1 >/dev/null); local code=$?
  local after; after=$(cd "$mnt/out" && find . -type f -exec sha256sum {} + | sort)
  local leftovers; leftovers=$(ls -A "$mnt" | grep -v '^out$' | wc -l)
  local intact=no; [ "$before" = "$after" ] && intact=yes
  echo "| $name | ${kb} KiB | $code | $intact | $leftovers | ${err:0:160} |"
  umount "$mnt"
}
echo "| command | tmpfs size | exit code | previous folder intact | leftovers | error |"
echo "|---|---:|---:|---|---:|---|"
run merge "$C/dense" purellama merge --model "$C/dense" --adapter "$C/adapter" --out "$WORK/mnt-merge/out" --dtype f32
run quantize-nf4 "$C/dense" purellama quantize --model "$C/dense" --format nf4 --out "$WORK/mnt-quantize-nf4/out" --force
run quantize-int8 "$C/dense" purellama quantize --model "$C/dense" --format int8 --out "$WORK/mnt-quantize-int8/out" --force
run convert "$C/dense" purellama convert --model "$C/dense" --out "$WORK/mnt-convert/out" --dtype f32
rm -rf "$WORK"
