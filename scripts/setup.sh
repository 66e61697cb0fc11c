#!/usr/bin/env bash
# Installs whatever this machine is missing to build and test srvra-sync.
# Idempotent: each step is skipped when already satisfied. Needs only rustup and Node.
#   scripts/setup.sh            toolchain + npm packages
#   scripts/setup.sh --browser  also Debian's chromium and chromium-driver (tests, bench),
#                               firefox-esr, webkit2gtk-driver (WebKitGTK's MiniBrowser and
#                               WebKitWebDriver) and xvfb (the other engines' tests),
#                               openssl (the tests' self-signed TLS certificates) and
#                               postgresql (the shared-storage tests start throw-away clusters)
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=false
[ "${1:-}" = "--browser" ] && want_browser=true

say() { printf '[setup] %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock exactly.
version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
installed=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$installed" != "$version" ]; then
  say "installing wasm-bindgen-cli $version (found: ${installed:-none})"
  cargo install --locked wasm-bindgen-cli --version "$version"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi

if $want_browser && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v openssl >/dev/null; }; then
  say "installing Debian's chromium, chromium-driver and openssl"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium chromium-driver openssl
fi

if $want_browser && { ! command -v firefox-esr >/dev/null || ! command -v WebKitWebDriver >/dev/null || ! command -v xvfb-run >/dev/null; }; then
  say "installing Debian's firefox-esr, webkit2gtk-driver and xvfb (Firefox and WebKit tests)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q firefox-esr webkit2gtk-driver xvfb
fi

if $want_browser && ! bash scripts/pg-cluster.sh bin initdb >/dev/null 2>&1; then
  say "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q postgresql
fi
