#!/usr/bin/env bash
# Refresh the browser libraries shipped inside the dflow-ui wheel (src/dflow_ui/static/vendor/).
#
# The files are committed, so building or installing dflow-ui needs no npm and the
# page loads nothing from the internet. Run this only to change a version: it takes
# the pinned packages from the npm registry with `npm pack` (which checks each
# tarball against the registry's integrity hash), copies the minified builds and the
# licence files, and writes VERSIONS.txt. Update the table in ../README.md too.
set -euo pipefail

CYTOSCAPE=3.34.4          # graph drawing (canvas), MIT
CYTOSCAPE_DAGRE=4.0.1     # dagre layout for cytoscape; bundles @dagrejs/dagre and @dagrejs/graphlib, MIT
DAGRE=3.0.0               # the dagre version bundled in cytoscape-dagre 4.0.1 (licence file only)
GRAPHLIB=4.0.1            # the graphlib version dagre 3.0.0 depends on (licence file only)

here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/src/dflow_ui/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "cytoscape@$CYTOSCAPE" "cytoscape-dagre@$CYTOSCAPE_DAGRE" \
    "@dagrejs/dagre@$DAGRE" "@dagrejs/graphlib@$GRAPHLIB" >/dev/null
for tgz in *.tgz; do
    mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"
done

mkdir -p "$out"
cp "cytoscape-$CYTOSCAPE/package/dist/cytoscape.min.js" "$out/cytoscape.min.js"
cp "cytoscape-$CYTOSCAPE/package/LICENSE" "$out/LICENSE.cytoscape.txt"
cp "cytoscape-dagre-$CYTOSCAPE_DAGRE/package/dist/cytoscape-dagre.min.js" "$out/cytoscape-dagre.min.js"
cp "cytoscape-dagre-$CYTOSCAPE_DAGRE/package/LICENSE" "$out/LICENSE.cytoscape-dagre.txt"
cp "dagrejs-dagre-$DAGRE/package/LICENSE" "$out/LICENSE.dagre.txt"
cp "dagrejs-graphlib-$GRAPHLIB/package/LICENSE" "$out/LICENSE.graphlib.txt"
{
    echo "cytoscape $CYTOSCAPE MIT cytoscape.min.js"
    echo "cytoscape-dagre $CYTOSCAPE_DAGRE MIT cytoscape-dagre.min.js"
    echo "@dagrejs/dagre $DAGRE MIT (bundled in cytoscape-dagre.min.js)"
    echo "@dagrejs/graphlib $GRAPHLIB MIT (bundled in cytoscape-dagre.min.js)"
} > "$out/VERSIONS.txt"
sha256sum "$out"/*.js | sed "s#$out/##" >> "$out/VERSIONS.txt"
echo "vendor-assets: wrote $(ls "$out" | wc -l) files to $out"
