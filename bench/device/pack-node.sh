#!/usr/bin/env bash
# Packs this machine's Node.js for a GPU machine that has none: the `node` on the PATH and the npm
# that comes with it, laid out as a Node.js prefix (bin/node, bin/npm, bin/npx, lib/node_modules/npm)
# in .device/node.tar.xz, and keeps .device/ out of git (.git/info/exclude). stage.sh then adds the
# runtime node_modules. On the GPU machine:
#   mkdir -p /tmp/node && tar -xJf .device/node.tar.xz -C /tmp/node && export PATH=/tmp/node/bin:$PATH
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

node_bin=$(node -p process.execPath)
npm_cli=$(readlink -f "$(command -v npm)")          # .../npm/bin/npm-cli.js
npm_dir=$(dirname "$(dirname "$npm_cli")")
[ "$(node -p "require('$npm_dir/package.json').name" 2>/dev/null)" = npm ] || { echo "cannot find npm's package next to $npm_cli" >&2; exit 1; }
if ldd "$node_bin" 2>/dev/null | grep -q 'libnode\.so'; then
  echo "$node_bin needs a shared libnode: pack a self-contained Node.js build (nodejs.org, NodeSource) instead" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib/node_modules"
cp "$node_bin" "$stage/bin/node"
cp -r "$npm_dir" "$stage/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"
"$stage/bin/node" "$stage/lib/node_modules/npm/bin/npm-cli.js" --version > /dev/null   # the copy runs

mkdir -p .device
tar -C "$stage" -cf - bin lib | xz -T2 -6 > .device/node.tar.xz.part
mv .device/node.tar.xz.part .device/node.tar.xz

exclude=$(git rev-parse --git-path info/exclude)     # shared by all worktrees of the clone
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >> "$exclude"

echo "packed node $("$node_bin" --version) and npm $("$node_bin" "$npm_cli" --version) into .device/node.tar.xz ($(du -h .device/node.tar.xz | cut -f1))"
