#!/usr/bin/env bash
# PTX check: compile every ILGPU kernel to PTX for sm_90 (no GPU needed), assemble each file with
# ptxas -arch=sm_90 -v, and write a report of registers, spills and shared memory per kernel.
# Exits non-zero when any kernel fails to compile or assemble, or when a register-tiled kernel spills or uses more
# local memory than its budget in scripts/ptx-budget.tsv.
#
# ptxas comes from Debian bookworm's non-free nvidia-cuda-toolkit (CUDA 11.8, PTX ISA <= 7.8),
# downloaded once with apt-get into a private lists folder and unpacked (not installed) under
# ~/.cache/purellama/ptxas. Override with PTXAS=/path/to/ptxas.
#
# Usage: scripts/ptx-check.sh [OUT_DIR]   (default artifacts/ptx)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/artifacts/ptx}"
CACHE="${PURELLAMA_PTXAS_CACHE:-$HOME/.cache/purellama/ptxas}"

find_mirror() {
  # The first Debian mirror named in the machine's apt sources (deb822 or one-line format).
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    uri="$(grep -hoE 'https?://[^ ]*/debian/?( |$)' "$f" 2>/dev/null | head -n1 | tr -d ' ')"
    if [[ -n "$uri" ]]; then echo "${uri%/}"; return 0; fi
  done
  echo "http://deb.debian.org/debian"
}

fetch_ptxas() {
  local bin="$CACHE/root/usr/bin/ptxas"
  if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi
  mkdir -p "$CACHE/lists/partial" "$CACHE/archives"
  local mirror; mirror="$(find_mirror)"
  echo "deb $mirror bookworm non-free" > "$CACHE/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$CACHE/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$CACHE/lists" -o "Dir::Cache=$CACHE/apt-cache"
              -o "APT::Get::List-Cleanup=0")
  mkdir -p "$CACHE/apt-cache/archives/partial"
  echo "ptx-check: fetching ptxas (nvidia-cuda-toolkit, bookworm non-free) from $mirror" >&2
  apt-get "${opts[@]}" update >&2
  # ptxas lives in nvidia-cuda-toolkit on bookworm; check the package list in case it moved.
  local pkg
  for pkg in nvidia-cuda-toolkit nvidia-cuda-toolkit-bin; do
    ( cd "$CACHE/archives" && apt-get "${opts[@]}" download "$pkg" >&2 ) || continue
    local deb; deb="$(ls -t "$CACHE/archives/${pkg}"_*.deb 2>/dev/null | head -n1)"
    [[ -n "$deb" ]] || continue
    if dpkg -c "$deb" | grep '/usr/bin/ptxas$' > /dev/null; then
      local unpack="$CACHE/unpack"
      rm -rf "$unpack" && dpkg -x "$deb" "$unpack"
      mkdir -p "$(dirname "$bin")" && cp "$unpack/usr/bin/ptxas" "$bin" && chmod +x "$bin"
      rm -rf "$unpack"
      break
    fi
  done
  [[ -x "$bin" ]] || { echo "ptx-check: could not obtain ptxas" >&2; return 1; }
  rm -rf "$CACHE/archives" "$CACHE/apt-cache" "$CACHE/lists"
  echo "$bin"
}

PTXAS="${PTXAS:-$(fetch_ptxas)}"
echo "ptx-check: using $PTXAS ($("$PTXAS" --version | tail -n1))" >&2
if [[ "${PTX_CHECK_FETCH_ONLY:-0}" == 1 ]]; then exit 0; fi

# (b) compile every kernel to PTX (the CLI's `ptx` command; no GPU needed).
rm -rf "$OUT"
mkdir -p "$OUT"
status=0
dotnet build "$ROOT/src/PureLlama.Cli" -c Release -v quiet -nologo >&2
dotnet "$ROOT/src/PureLlama.Cli/bin/Release/net10.0/PureLlama.Cli.dll" ptx --out "$OUT" >&2 || status=1

# (c) assemble each file for sm_90 and collect registers / spills / shared memory.
REPORT="$OUT/ptxas-report.md"
{
  echo "# ptxas report (sm_90, $("$PTXAS" --version | tail -n1))"
  echo
  echo "| kernel | registers | spill stores (B) | spill loads (B) | stack (B) | shared (B) | result |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
} > "$REPORT"
# Local-memory budgets (scripts/ptx-budget.tsv): kernel-prefix, spill stores, spill loads, stack bytes.
BUDGET="$ROOT/scripts/ptx-budget.tsv"
over_budget() {  # name stores loads stack -> prints the reason and returns 0 when a budget row is exceeded
  local name="$1" st="$2" ld="$3" stack="$4" prefix bst bld bstack
  [[ -r "$BUDGET" ]] || return 1
  while IFS=$'\t' read -r prefix bst bld bstack; do
    [[ -z "$prefix" || "$prefix" == \#* ]] && continue
    [[ "$name" == "$prefix"* ]] || continue
    if (( st > bst || ld > bld || stack > bstack )); then
      echo "spills $st/$ld B, stack $stack B over the budget $bst/$bld B, $bstack B ($prefix)"
      return 0
    fi
  done < "$BUDGET"
  return 1
}
count=0; failed=0
for ptx in "$OUT"/*.ptx; do
  [[ -e "$ptx" ]] || continue
  count=$((count + 1))
  name="$(basename "$ptx" .ptx)"
  log="$OUT/$name.ptxas.log"
  if "$PTXAS" -arch=sm_90 -v "$ptx" -o "$OUT/$name.cubin" > "$log" 2>&1; then
    regs="$(grep -oE 'Used [0-9]+ registers' "$log" | grep -oE '[0-9]+' | sort -n | tail -n1 || true)"
    st="$(grep -oE '[0-9]+ bytes spill stores' "$log" | grep -oE '^[0-9]+' | sort -n | tail -n1 || true)"
    ld="$(grep -oE '[0-9]+ bytes spill loads' "$log" | grep -oE '^[0-9]+' | sort -n | tail -n1 || true)"
    stack="$(grep -oE '[0-9]+ bytes stack frame' "$log" | grep -oE '^[0-9]+' | sort -n | tail -n1 || true)"
    smem="$(grep -oE '[0-9]+ bytes smem' "$log" | grep -oE '^[0-9]+' | sort -n | tail -n1 || true)"
    if why="$(over_budget "$name" "${st:-0}" "${ld:-0}" "${stack:-0}")"; then
      failed=$((failed + 1))
      echo "| $name | ${regs:-?} | ${st:-0} | ${ld:-0} | ${stack:-0} | ${smem:-0} | **$why** |" >> "$REPORT"
      echo "ptx-check: $name: $why" >&2
    else
      echo "| $name | ${regs:-?} | ${st:-0} | ${ld:-0} | ${stack:-0} | ${smem:-0} | ok |" >> "$REPORT"
    fi
  else
    failed=$((failed + 1))
    echo "| $name | | | | | | **ptxas error** (see $name.ptxas.log) |" >> "$REPORT"
    echo "ptx-check: ptxas failed on $name:" >&2
    sed 's/^/    /' "$log" >&2
  fi
  rm -f "$OUT/$name.cubin"
done
{
  echo
  echo "$count kernels assembled, $failed failed (ptxas error or over the local-memory budget)."
} >> "$REPORT"
cat "$REPORT"
if [[ $count -eq 0 ]]; then echo "ptx-check: no PTX files were produced" >&2; exit 1; fi
if [[ $failed -gt 0 || $status -ne 0 ]]; then echo "ptx-check: FAILED" >&2; exit 1; fi
echo "ptx-check: all $count kernels assemble for sm_90" >&2
