#!/usr/bin/env bash
# Re-create book/_vendor from the npm registry (versions pinned in book/package.json).
# Only the few files the built book loads are kept; they are committed so the book builds
# and reads offline. Usage: book/_vendor/refresh.sh
set -euo pipefail
book="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$book/package.json" "$tmp/"
[ -f "$book/package-lock.json" ] && cp "$book/package-lock.json" "$tmp/"
(cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts >/dev/null)
cp "$tmp/package-lock.json" "$book/package-lock.json"
nm="$tmp/node_modules"
out="$book/_vendor"
rm -rf "$out/widgets" "$out/mathjax" "$out/require.js" "$out/licenses"
mkdir -p "$out/widgets" "$out/mathjax/output/chtml/fonts" "$out/mathjax/input/tex" "$out/licenses"
# ipywidgets' HTML manager (AMD build) and the woff/woff2 icon fonts its CSS points at
cp "$nm/@jupyter-widgets/html-manager/dist/embed-amd.js" "$out/widgets/"
cp "$nm"/@jupyter-widgets/html-manager/dist/*.woff "$nm"/@jupyter-widgets/html-manager/dist/*.woff2 "$out/widgets/"
# require.js, which loads embed-amd.js
cp "$nm/requirejs/require.js" "$out/require.js"
# MathJax 3: the combined TeX/MathML -> CommonHTML file, its fonts, and the TeX extensions
# that the autoload package may pull in on demand
cp "$nm/mathjax/es5/tex-mml-chtml.js" "$out/mathjax/"
cp -r "$nm/mathjax/es5/output/chtml/fonts/woff-v2" "$out/mathjax/output/chtml/fonts/"
cp -r "$nm/mathjax/es5/input/tex/extensions" "$out/mathjax/input/tex/"
cp "$nm/mathjax/LICENSE" "$out/licenses/mathjax-LICENSE"
cat > "$out/licenses/README.md" <<'TXT'
Licences of the vendored scripts (versions in book/package.json):
- mathjax: Apache-2.0 (mathjax-LICENSE)
- @jupyter-widgets/html-manager: BSD-3-Clause (Project Jupyter); see embed-amd.js header
- requirejs: MIT (jQuery Foundation and other contributors); see require.js header
TXT
echo "vendored into $out: $(du -sh "$out" | cut -f1)"
