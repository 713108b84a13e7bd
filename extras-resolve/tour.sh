#!/usr/bin/env bash
# The extra's step of `./workshop tour` (which builds first): names to
# addresses and back, on names every machine knows. Helpers: ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

say ""
say "==> Extras: names to addresses — the talk's socket.gethostbyname('www.google.com'),"
say "    done with getaddrinfo: IPv4 and IPv6, every address (localhost needs no network)"
run resolve extras-resolve/resolve localhost 127.0.0.1 ::1
say "  And back: getnameinfo turns an address into its name; the resolver knows the ports:"
run resolve extras-resolve/resolve --reverse 127.0.0.1
run resolve extras-resolve/resolve --service http https
say "  Asked for IPv4 only (-4), ::1 has no answer: an error, and the other names"
say "  are still answered (exit code 1):"
run resolve extras-resolve/resolve -4 localhost ::1 || true
