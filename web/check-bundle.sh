#!/bin/sh
# Is the viewer bundle shipped in the Python package the one web/'s committed sources build?
#
# Builds from a clean copy of the sources with `npm ci` (the pinned package-lock.json) in a
# temporary directory — never from web/node_modules, which may hold something else — and
# compares the result with src/pancommons/portal/static/viewer/ byte for byte.
# Exit 0: identical; 1: they differ (rebuild: cd web && npm ci && npm run build); 2: could not build.
set -eu

web=$(cd "$(dirname "$0")" && pwd)
shipped="$web/../src/pancommons/portal/static/viewer"
work=$(mktemp -d "${TMPDIR:-/tmp}/pancommons-viewer.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cp "$web/package.json" "$web/package-lock.json" "$web/build.mjs" "$work/"
cp -R "$web/src" "$work/src"
cd "$work"
if ! npm ci --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1; then
    cat "$work/npm.log" >&2
    echo "check-bundle: npm ci failed in $work (is the npm registry reachable?)" >&2
    exit 2
fi
if ! node build.mjs "$work/out" >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    echo "check-bundle: the build failed" >&2
    exit 2
fi
if diff -rq "$work/out" "$shipped" >&2; then
    echo "check-bundle: src/pancommons/portal/static/viewer/ is what web/ builds ($(ls "$work/out" | wc -l) files)"
else
    echo "check-bundle: src/pancommons/portal/static/viewer/ differs from what web/ builds;" \
         "rebuild it: cd web && npm ci && npm run build" >&2
    exit 1
fi
