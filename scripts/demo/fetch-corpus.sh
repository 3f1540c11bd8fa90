#!/usr/bin/env bash
# Fetches the demo corpus: the King James Version of the Bible (1611; public domain) from Debian's
# packages bible-kjv-text (the text) and bible-kjv (the program that prints it), without installing
# them, and writes one verse per line, "Book C:V text", chapters separated by a blank line.
#   usage: scripts/demo/fetch-corpus.sh OUT.txt
set -euo pipefail
out="${1:?usage: fetch-corpus.sh OUT.txt}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download bible-kjv-text bible-kjv >/dev/null 2>&1 ) \
  || { echo "apt-get download bible-kjv-text bible-kjv failed (needs Debian's package index)" >&2; exit 1; }
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
"$work/root/usr/bin/bible" -p "$work/root/usr/lib" "Gen1:1-Rev22:21" > "$work/raw.txt"
# The program prints "Book C" headings, then "  V text" verses wrapped at 80 columns.
awk '
  function flush() { if (verse != "") { print book " " chapter ":" num " " verse; verse = "" } }
  /^[0-9A-Z][A-Za-z ]* [0-9]+$/ { flush(); if (book != "") print ""; chapter = $NF; $NF = ""; sub(/ +$/, ""); book = $0; next }
  /^  +[0-9]+ / { flush(); num = $1; $1 = ""; sub(/^ +/, ""); verse = $0; next }
  /^$/ { next }
  { verse = verse " " $0 }
  END { flush() }
' "$work/raw.txt" > "$out.tmp"
mv "$out.tmp" "$out"
echo "$(wc -l < "$out") lines, $(wc -c < "$out") bytes -> $out"
