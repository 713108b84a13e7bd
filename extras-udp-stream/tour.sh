#!/usr/bin/env bash
# The extra's step of `./workshop tour` (which builds first): the talk's last
# slide, a phone streaming its motion sensor over UDP to a PC. The sensor
# plays the phone, the dashboard the PC. Helpers: ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

say ""
say "==> Extras: a phone streams its motion sensor over UDP (the talk's last slide) —"
say "    one reading a datagram, numbered, so the PC can tell what the network did"
start pc extras-udp-stream/dashboard --port 0
exec {pc}<"$scratch/pc.out"
port=$(port_of pc "$pc")
show_the_rest pc "$pc"
say "  Six seconds of the phone's routine (flat, tilted right, flat, shaken), at 100"
say "  readings a second, with 5% thrown away and 5% swapped on purpose, as Wi-Fi may:"
run phone extras-udp-stream/sensor --port "$port" --rate 100 --count 600 --drop 0.05 --reorder 0.05 --seed 1
say "  The dashboard reports once a second; Ctrl-C prints its totals:"
stop_every_program
