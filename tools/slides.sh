#!/usr/bin/env bash
# tools/slides.sh [--update] [--test] — `./workshop slides` (which installs
# Node.js, npm and Chromium first): the deck, rendered with Marp into
# build/slides/, one HTML file and a PNG per slide (when CHROME_PATH names a
# Chromium). --update first copies the lessons' code into the deck's blocks,
# and captures the sequence diagrams of slides/wire/ again (capture.py);
# --test then runs the browser test, and refuses a deck that has drifted from
# the lessons (without it, a drifted deck renders, with a warning).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deck=slides/sockets-spoon-feeding.md
out=build/slides

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The HTML goes to build/slides/, so the deck is copied there first: its links
# to the lessons (../spoon2-echo/) get one more ../, and each SVG picture is
# put inside as a data: URL, so the HTML is a file of its own.
copy_deck() {  # copy_deck OUT.md
  local line alt file image='^!\[([^]]*)\]\(([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?\.svg)\)$'
  while IFS= read -r line; do
    if [[ $line =~ $image ]] && [ -f "slides/${BASH_REMATCH[2]}" ]; then
      alt="${BASH_REMATCH[1]}" file="slides/${BASH_REMATCH[2]}"
      printf '<img src="data:image/svg+xml;base64,%s" alt="%s" style="height: 560px">\n' \
        "$(base64 <"$file" | tr -d '\n')" "$alt"
    else
      printf '%s\n' "${line//](..\//](..\/..\/}"
    fi
  done <"$deck" >"$1"
}

drifted() {  # drifted REPORT: what the region tool's check REPORT found, one problem a line
  sed -n -e 's/^[^ ]*\.md:[0-9]*: the block differs from \(.*\)$/  \1 (the lesson changed)/p' \
    -e "s/^[^ ]*\\.md:[0-9]*: no region '\\([^']*\\)' in \\(.*\\)\$/  \\2#\\1 (no such region)/p" \
    -e 's/^[^ ]*\.md:\([0-9]*\): \(a region comment.*\|no test .*\|the last region.*\)$/  line \1: \2/p' <<<"$1"
}

update="" run_test=""
while [ $# -gt 0 ]; do
  case "$1" in
    --update) update=yes ;;
    --test) run_test=yes ;;
    *) printf "error: unknown option '%s' (slides takes --update, --test)\n" "$1" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$update" ]; then
  cmake -D MODE=update -D "DECK=$deck" -P slides/regions.cmake || die "the deck was not updated (see above)"
  # The sequence diagrams: each exchange captured again (as root; without the
  # right to capture, the committed captures stay), then every SVG drawn again.
  python3 slides/wire/capture.py --update || die "the diagrams were not captured again (see above)"
  python3 slides/wire/sequence_svg.py --update slides/wire || die "the diagrams were not drawn (see above)"
fi
if ! report="$(python3 slides/wire/sequence_svg.py --check slides/wire 2>&1)"; then
  if [ -n "$run_test" ]; then
    printf '%s\n' "$report" >&2
    die "a diagram differs from its events: ./workshop slides --update draws it again"
  fi
  printf 'warning: a diagram differs from its events; the slides show it as it is:\n%s\n' "$report" >&2
fi
if ! report="$(cmake -D MODE=check -D "DECK=$deck" -P slides/regions.cmake 2>&1)"; then
  if [ -n "$run_test" ]; then
    printf '%s\n' "$report" >&2
    die "the deck's code differs from the lessons: ./workshop slides --update copies it in"
  fi
  problems="$(drifted "$report")"
  [ -n "$problems" ] || problems="$report"
  printf 'warning: the deck differs from the lessons; the slides show the deck as it is:\n%s\n' "$problems" >&2
  printf 'warning: ./workshop slides --update copies the lessons'"'"' code into the deck\n' >&2
fi

# npm ci once for each version of the lock file.
if ! cmp -s slides/package-lock.json slides/node_modules/.workshop-lock 2>/dev/null; then
  say "==> npm ci in slides/ (@marp-team/marp-cli, as pinned in slides/package-lock.json)"
  (cd slides && npm ci --no-audit --no-fund --loglevel=error) >/dev/null || die "npm ci failed (see above)"
  cp slides/package-lock.json slides/node_modules/.workshop-lock
fi
marp=(slides/node_modules/.bin/marp --no-stdin --html --theme slides/theme.css)
rm -rf "$out"
mkdir -p "$out/png"
copy_deck "$out/sockets-spoon-feeding.md"
"${marp[@]}" "$out/sockets-spoon-feeding.md" -o "$out/sockets-spoon-feeding.html" \
  2>"$out/marp.log" || { cat "$out/marp.log" >&2; die "marp failed"; }
[ -s "$out/sockets-spoon-feeding.html" ] || die "marp wrote no HTML (see $out/marp.log)"
say "slides: $out/sockets-spoon-feeding.html"

if [ -n "${CHROME_PATH:-}" ]; then
  # --allow-local-files: without it, Chromium silently drops local pictures.
  timeout 300 "${marp[@]}" --images png --allow-local-files \
    "$out/sockets-spoon-feeding.md" -o "$out/png/sockets-spoon-feeding.png" \
    2>"$out/marp.log" || { cat "$out/marp.log" >&2; die "marp failed to draw the PNGs"; }
  say "PNGs:   $out/png/sockets-spoon-feeding.001.png … ($(find "$out/png" -name '*.png' | wc -l) slides)"
else
  say "PNGs:   none (no Chromium here; Debian: apt-get install chromium)"
fi
if [ -n "$run_test" ]; then
  bash slides/test/browser_test.sh "$out/sockets-spoon-feeding.html"
fi
