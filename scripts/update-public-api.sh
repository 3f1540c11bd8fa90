#!/usr/bin/env bash
# Regenerates PublicAPI.Shipped.txt of the library projects (PureLlama.Kernels, PureLlama) from the code, with
# the code fixes of Microsoft.CodeAnalysis.PublicApiAnalyzers (RS0016: public symbol not declared; RS0017:
# declared symbol gone). Run it after merging, review `git diff -- '*PublicAPI*'`, commit. From then on every
# public addition or removal fails the build (warnings are errors) until it is declared in PublicAPI.Unshipped.txt —
# so it is seen in review. Usage: scripts/update-public-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

for dir in kernels/PureLlama.Kernels src/PureLlama; do
  proj=$(ls "$dir"/*.csproj)
  printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  # The fixes write every public symbol into PublicAPI.Unshipped.txt …
  dotnet format analyzers "$proj" --diagnostics RS0016 RS0017 --severity warn --verbosity quiet || true
  # … which then becomes the shipped baseline, sorted (ordinal) so diffs stay small.
  { printf '#nullable enable\n'; grep -v '^#nullable' "$dir/PublicAPI.Unshipped.txt" | LC_ALL=C sort -u; } > "$dir/PublicAPI.Shipped.txt.new"
  mv "$dir/PublicAPI.Shipped.txt.new" "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  echo "$dir: $(($(wc -l < "$dir/PublicAPI.Shipped.txt") - 1)) public API entries"
done
dotnet build src/PureLlama/PureLlama.csproj -c Release --verbosity quiet
