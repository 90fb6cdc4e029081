#!/usr/bin/env bash
# Renders the sample's report.html and one conversation page in headless
# Chromium and writes PNG screenshots, for the check described in
# docs/ui-checks.md. Needs Debian's chromium (apt-get install -y chromium).
# Not run by CI.
set -euo pipefail
out=${1:-./miexit-screenshots}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
go run ./cmd/miexit migrate --from archive:testdata/sample --to "dir:$work/dest" --state-dir "$work/state" -q || true
snap=$(ls -d "$work"/state/snapshots/*/)
shot() {
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 \
    --screenshot="$2" "file://$1" 2>/dev/null
}
shot "$snap/report.html" "$out/report.png"
page=$(ls "$snap"/messages/html/conversation-*.html | head -1)
shot "$page" "$out/conversation.png"
echo "wrote $out/report.png and $out/conversation.png"
