#!/usr/bin/env bash
# Runs every test: native core tests, wasm binding tests in headless Chromium, the type
# check of the published types, and the end-to-end tests of the built package.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --browser

step() { printf '\n=== %s\n' "$*"; }

step "no Rust file imports a file that imports it back (scripts/check-cycles.mjs)"
node scripts/check-cycles.mjs

step "native tests: core, protocol and the reference server (cargo test)"
cargo test --workspace --all-targets

step "wasm binding + IndexedDB tests in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown --test web

step "build the server binary for the end-to-end tests"
cargo build -p srvra-sync-server

step "build pkg/"
node scripts/build.mjs

step "pack pkg/ and install the tarball into a fresh project (what the e2e tests use)"
node scripts/pack.mjs

step "published types of the installed package (tsc --noEmit)"
node_modules/.bin/tsc -p tests/types/tsconfig.json

step "end-to-end tests: every suite in headless Chromium, the engine flows also in Firefox and WebKit (node --test)"
node --test --test-concurrency=1 tests/e2e/
