#!/usr/bin/env bash
# (Re)creates corpus/decode/ from the golden client captures in ../test_data/valid/.
# Those files are frames without the 4-byte size prefix; the `decode` target reads a stream of
# size-prefixed frames, so each seed is the big-endian INT32 length followed by the frame.
# One extra seed holds two frames back to back, as a connection would send them.
# The captures are old versions only, so the protocol crate's test `fuzz_seeds_cover_every_implemented_version`
# (src/tests/fuzz_seeds.rs) then adds one generated frame per implemented (api, version), named
# `<api>_v<version>_generated`: with KZERO_WRITE_FUZZ_SEEDS=<dir> set, it writes them there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../test_data/valid"
dst="$here/corpus/decode"

prefixed() {
    local size
    size=$(wc -c <"$1")
    # Bash's printf writes \xHH escapes as raw bytes, so this needs no xxd or od.
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
        $((size >> 24 & 255)) $((size >> 16 & 255)) $((size >> 8 & 255)) $((size & 255)))"
    cat "$1"
}

rm -rf "$dst"
mkdir -p "$dst"
shopt -s nullglob
files=("$src"/*.bin)
if [ ${#files[@]} -eq 0 ]; then
    echo "no .bin files in $src" >&2
    exit 1
fi
for f in "${files[@]}"; do
    prefixed "$f" >"$dst/$(basename "$f" .bin)"
done
# A connection usually starts with ApiVersions, then Metadata.
first_api=("$src"/api_versions_*.bin)
first_md=("$src"/metadata_*.bin)
if [ ${#first_api[@]} -gt 0 ] && [ ${#first_md[@]} -gt 0 ]; then
    { prefixed "${first_api[0]}"; prefixed "${first_md[0]}"; } >"$dst/stream_api_versions_metadata"
fi
# The protocol crate is in the root workspace; this builds its unit tests (not the fuzz target).
KZERO_WRITE_FUZZ_SEEDS="$dst" cargo test --quiet --manifest-path "$here/../Cargo.toml" --lib \
    -- --exact tests::fuzz_seeds::fuzz_seeds_cover_every_implemented_version >&2
generated=("$dst"/*_generated)
if [ ${#generated[@]} -eq 0 ]; then
    echo "the fuzz_seeds test wrote no seeds into $dst" >&2
    exit 1
fi
echo "seeded $(find "$dst" -type f | wc -l) inputs into $dst"
