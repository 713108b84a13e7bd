#!/usr/bin/env bash
# slides/test/browser_test.sh [HTML] — the rendered deck, seen by a real browser.
#
# Headless Chromium opens the HTML that `./workshop slides` wrote (default
# build/slides/sockets-spoon-feeding.html) and shows that it is slides, not
# raw Markdown: the page's DOM, once Marp's scripts ran, has one <section>
# per slide of the deck and highlighted C++; a screenshot of the title slide
# is the theme's dark blue, and one of the first code slide has the grey code
# box and coloured syntax. Needs Chromium and Node (which rendered the HTML).
# `./workshop slides --test` runs it; so does .ci/run.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
html="$(realpath "${1:-$root/build/slides/sockets-spoon-feeding.html}")"
deck="$root/slides/sockets-spoon-feeding.md"
[ -f "$html" ] || { echo "error: no $html (./workshop slides writes it)" >&2; exit 1; }
chromium="${CHROME_PATH:-$(command -v chromium || command -v chromium-browser)}" ||
  { echo "error: no Chromium (Debian: apt-get install chromium)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0 passes=0
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
ok() { printf 'ok: %s\n' "$*"; passes=$((passes + 1)); }

# As root, on a closed network, Chromium needs all of these, and a profile of
# its own each time, or it waits forever for things it cannot have.
browser() {
  local profile
  profile="$(mktemp -d "$work/profile.XXXXXX")"
  timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" "$@" \
    2>"$work/chromium.log"
}

# --- the DOM: every slide a <section>, every C++ block highlighted ------------
browser --virtual-time-budget=3000 --dump-dom "file://$html" >"$work/dom.html" ||
  fail "chromium --dump-dom failed: $(tail -3 "$work/chromium.log")"
separators=$(grep -c '^---$' "$deck")
expected_slides=$((separators - 2 + 1))  # the front matter has two
slides=$(grep -o '<section[^>]* id="[0-9]*"' "$work/dom.html" | grep -o 'id="[0-9]*"' | sort -u | wc -l)
if [ "$slides" -eq "$expected_slides" ]; then ok "$slides slides in the DOM, as in the deck"; else
  fail "$slides <section> slides in the DOM, the deck has $expected_slides"; fi
expected_cpp=$(grep -c '^```cpp$' "$deck")
cpp=$(grep -o '<code class="language-cpp"' "$work/dom.html" | wc -l)
if [ "$cpp" -eq "$expected_cpp" ]; then ok "$cpp C++ code blocks"; else
  fail "$cpp C++ code blocks in the DOM, the deck has $expected_cpp"; fi
if grep -q 'class="hljs-keyword"' "$work/dom.html"; then ok "the code is highlighted"; else
  fail "no highlighted keyword (hljs-keyword) in the DOM"; fi
if grep -q '<h1[^>]*>Sockets Spoon Feeding</h1>' "$work/dom.html"; then ok "the title is a heading"; else
  fail "no <h1>Sockets Spoon Feeding</h1>"; fi
if grep -q '<img src="data:image/svg+xml;base64,' "$work/dom.html"; then ok "the life-cycle diagram is inside the page"; else
  fail "no SVG picture inside the page"; fi
if grep -qE '```|<!-- region:|^## ' "$work/dom.html"; then
  fail "raw Markdown in the page: $(grep -m1 -E '```|<!-- region:|^## ' "$work/dom.html")"
else ok "no raw Markdown in the page"; fi

# --- every slide's content fits its slide --------------------------------------
# A Marp slide hides what does not fit: code cut off at the bottom looks like
# the end of the code. slide_fit.js measures each slide in the page itself.
# (A copy of the page, beside a copy of the script it loads.)
cp "$here/slide_fit.js" "$work/"
{ sed 's|</body></html>$||' "$html"; printf '<script src="slide_fit.js"></script></body></html>\n'; } >"$work/fit.html"
browser --window-size=1280,720 --virtual-time-budget=5000 --dump-dom "file://$work/fit.html" \
  >"$work/fit-dom.html" || fail "chromium --dump-dom (slide fit) failed: $(tail -3 "$work/chromium.log")"
sed -n '/<pre id="slide-fit">/,/<\/pre>/p' "$work/fit-dom.html" | sed 's/<[^>]*>//g; s/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g' |
  grep . >"$work/fit.tsv"
measured=0 overflowing=0 fullest="" room=100000
while IFS=$'\t' read -r slide over wide bottom limit heading; do
  if [ "$slide" = control ]; then
    if [ "${over:-0}" -gt 0 ]; then ok "the fit check sees a slide it made too tall (by $over px)"; else
      fail "the fit check does not see a slide it made 2000 px too tall: it measures nothing"; fi
    continue
  fi
  measured=$((measured + 1))
  if [ "$over" -gt 0 ]; then
    fail "slide $slide ($heading) overflows by $over px: its content ends at $bottom px, the slide's at $limit px"
    overflowing=$((overflowing + 1))
  fi
  if [ "$wide" -gt 0 ]; then  # Marp would shrink that block's font to fit
    fail "slide $slide ($heading) has a line $wide px too wide for the slide"
    overflowing=$((overflowing + 1))
  elif [ "$over" -eq 0 ] && [ $((limit - bottom)) -lt "$room" ]; then
    room=$((limit - bottom)) fullest="slide $slide ($heading)"
  fi
done <"$work/fit.tsv"
if [ "$measured" -ne "$expected_slides" ]; then
  fail "the fit check measured $measured slides, the deck has $expected_slides"
elif [ "$overflowing" -eq 0 ]; then
  ok "every slide's content fits its slide (the fullest, $fullest, has $room px to spare)"
fi

# The first slide with C++ on it: the number of the <section> before it.
code_slide=$(grep -o '<section[^>]* id="[0-9]*"\|<code class="language-cpp"' "$work/dom.html" |
  awk -F'"' '/<section/ { for (i = 1; i < NF; ++i) if ($i ~ /id=$/) id = $(i + 1) }
             /language-cpp/ { print id; exit }')
[ -n "$code_slide" ] || { fail "no slide with C++"; code_slide=1; }

# --- the screenshots: what a person sees ---------------------------------------
stats() {  # stats NAME SLIDE: screenshot of that slide; prints png_stats' JSON
  browser --window-size=1280,720 --hide-scrollbars --screenshot="$work/$1.png" "file://$html#$2" \
    >/dev/null || fail "chromium --screenshot of slide $2 failed: $(tail -3 "$work/chromium.log")"
  node "$here/png_stats.mjs" "$work/$1.png" '#1b3a57' '#f6f8fa' || echo '{}'
}
check() {  # check DESCRIPTION JSON JS-EXPRESSION (of s: the stats)
  if node -e "const s = JSON.parse(process.argv[1]); process.exit(($3) ? 0 : 1)" "$2" 2>/dev/null; then
    ok "$1"
  else
    fail "$1: $2"
  fi
}
title="$(stats title 1)"
check "the title slide is 1280x720" "$title" 's.width === 1280 && s.height === 720'
check "the title slide is mostly the theme's dark blue" "$title" "s.share['#1b3a57'] > 0.6"
code="$(stats code "$code_slide")"
check "slide $code_slide (code) has the grey code box" "$code" "s.share['#f6f8fa'] > 0.2"
check "slide $code_slide (code) has coloured syntax" "$code" 's.coloured > 1000'
check "slide $code_slide (code) has the blue heading" "$code" "s.share['#1b3a57'] > 0.001"
if [ -n "${SLIDES_SCREENSHOTS:-}" ]; then  # keep them, to look at
  mkdir -p "$SLIDES_SCREENSHOTS" && cp "$work/title.png" "$work/code.png" "$SLIDES_SCREENSHOTS/"
fi

echo "browser: $passes passed, $failures failed"
exit "$((failures > 0))"
