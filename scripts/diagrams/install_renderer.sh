#!/usr/bin/env bash
# Install the Mermaid renderer that tests/infra/tooling/test_diagram_render.py
# uses: mermaid's CLI (mmdc, npm package @mermaid-js/mermaid-cli) into the
# git-ignored .tools/mermaid/, driving a headless Chromium from the system.
#
# Chromium: $CHROMIUM when set (CI points it at the runner's preinstalled
# Chrome: Ubuntu's apt "chromium" is only a snap shim), else /usr/bin/chromium,
# installed from Debian (apt-get install chromium) when missing. Puppeteer never
# downloads a browser of its own (PUPPETEER_SKIP_DOWNLOAD=1).
#
# Idempotent and quiet when everything is there. On success the last line is
# the path of the puppeteer config mmdc needs (-p); on failure it exits 1 with
# what to do, and the test skips (or fails under REQUIRE_SERVICES=1).
set -euo pipefail
cd "$(dirname "$0")/../.."

# mermaid-cli 12 needs Node.js 22; 11.x runs on the Node.js 20 of Debian and CI.
MERMAID_CLI_VERSION="11.17.0"
DIR=".tools/mermaid"
MMDC="$DIR/node_modules/.bin/mmdc"
CONFIG="$DIR/puppeteer.json"

fail() { printf 'install_renderer.sh: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# ---------------------------------------------------------------- Chromium
browser="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$browser" ]; then
  [ -z "${CHROMIUM:-}" ] || fail "CHROMIUM=$CHROMIUM is not an executable"
  command -v apt-get >/dev/null \
    || fail "no $browser and no apt-get: install Chromium and set CHROMIUM=/path/to/it"
  echo "installing Debian's chromium (apt-get install chromium)" >&2
  as_root apt-get update -qq >/dev/null || fail "apt-get update failed (run as root or with sudo)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || fail "apt-get install chromium failed: install it by hand, or set CHROMIUM=/path/to/chrome"
  [ -x "$browser" ] || fail "apt-get installed chromium but $browser is missing"
fi

# ------------------------------------------------------------ mermaid-cli
command -v npm >/dev/null || fail "npm not found: install Node.js 20+ (apt-get install nodejs npm)"
installed=""
if [ -x "$MMDC" ]; then
  installed=$(node -p "require('./$DIR/node_modules/@mermaid-js/mermaid-cli/package.json').version" 2>/dev/null || true)
fi
if [ "$installed" != "$MERMAID_CLI_VERSION" ]; then
  echo "installing @mermaid-js/mermaid-cli@$MERMAID_CLI_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error \
    "@mermaid-js/mermaid-cli@$MERMAID_CLI_VERSION" >&2 \
    || fail "npm install @mermaid-js/mermaid-cli@$MERMAID_CLI_VERSION failed (is the npm registry reachable?)"
fi

# Sandboxing needs user namespaces, which containers and CI runners often lack;
# the pages rendered are our own diagrams.
cat > "$CONFIG" <<JSON
{"executablePath": "$browser", "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]}
JSON
echo "$CONFIG"
