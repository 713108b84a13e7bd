#!/usr/bin/env python3
"""Draws a captured TCP exchange as a sequence diagram, in SVG.

    python3 slides/wire/sequence_svg.py EVENTS            # the SVG, on stdout
    python3 slides/wire/sequence_svg.py --update DIR      # DIR/NAME.svg for every DIR/NAME.events
    python3 slides/wire/sequence_svg.py --check DIR       # fails when a DIR/NAME.svg is not what
                                                          # its NAME.events makes (CTest: slides)

EVENTS is what `build/tests/wire_events CAPTURE PORT` prints, one packet a
line (`client → server  SYN`, `server → client  24 bytes "Thank you…"`), under
a few `# key: value` lines written by capture.py: the title, the program on
each side, and notes beside a lifeline (`# note: 4 client: recv() returns 0`
puts that note at the client's end of the 4th arrow). Two lifelines, the
client on the left; each packet is an arrow that slants down, because a packet
takes time to arrive. The output depends on the events only: no clock, no
random, every number rounded the same way, so a diff of an SVG is a diff of
the exchange.
"""
import html
import math
import re
import sys
from pathlib import Path

WIDTH, HEIGHT = 1100, 600
CLIENT_X, SERVER_X = 280, 820  # the two lifelines
FIRST_Y = 128  # where the first arrow starts
LEGEND_Y = 520  # the legend's top; the arrows end above it
SLANT = 24  # how far an arrow falls on its way across
MAX_PITCH = 56  # the distance between two arrows, at most
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# The color of an arrow says what the packet does.
COLORS = {
    "handshake": "#475569",  # SYN, SYN-ACK, the ACK that ends the handshake
    "data": "#b45309",  # bytes (the color of the wire in socket-lifecycle.svg)
    "fin": "#7c3aed",  # FIN: no more data from this side
    "rst": "#dc2626",  # RST: the connection is torn down
}
LEGEND = [
    ("handshake", "the handshake"),
    ("data", "data: N bytes \"text\""),
    ("fin", "FIN: this side sends no more"),
    ("rst", "RST: reset, torn down"),
]
LINE = re.compile(r"^(client|server) → (client|server)  (.+)$")


class BadEvents(Exception):
    pass


def parse(text):
    """The events file: its header (title, sides, notes) and its packets."""
    header = {"title": "", "client": "", "server": "", "legend": ""}
    notes = []  # (packet number from 1, side, text)
    packets = []  # (sender, what)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(": ")
            if key == "note":
                match = re.match(r"^(\d+) (client|server): (.+)$", value)
                if not match:
                    raise BadEvents(f"line {number}: a note is '# note: N client|server: TEXT'")
                notes.append((int(match[1]), match[2], match[3]))
            elif key in header:
                header[key] = value
            continue  # any other comment is for the reader
        match = LINE.match(line)
        if not match or match[1] == match[2]:
            raise BadEvents(f"line {number}: not 'client → server  WHAT': {line!r}")
        packets.append((match[1], match[3]))
    if not packets:
        raise BadEvents("no packets")
    for packet, _, _ in notes:
        if not 1 <= packet <= len(packets):
            raise BadEvents(f"a note on packet {packet}, of {len(packets)}")
    return header, notes, packets


# A packet's line: data first (its text quoted, escaped, maybe cut with …), then flags.
PACKET = re.compile(r'^(?:((?:UDP )?\d+ bytes) ("(?:[^"\\]|\\.)*"…?))?(?:(?: \+ )?(.+))?$')


def parts(what):
    """(count, text, flags): '24 bytes', '"Thank you…"', ['FIN']; any of them may be missing."""
    match = PACKET.match(what)
    if not match or not (match[1] or match[3]):
        raise BadEvents(f"not a packet: {what!r}")
    return match[1], match[2], match[3].split(" + ") if match[3] else []


def kind(what):
    """handshake, data, fin or rst: what a packet's line says it does."""
    count, _, flags = parts(what)
    if "RST" in flags or what.startswith("ICMP"):
        return "rst"
    if "FIN" in flags:
        return "fin"
    if count:
        return "data"
    return "handshake"


def number(value):
    """A coordinate as the SVG says it: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def label(what):
    """An arrow's text: the count and flags in the body font, the bytes as code."""
    count, text, flags = parts(what)
    shown = []
    if count:
        shown.append(f'{html.escape(count)} <tspan class="bytes">{html.escape(text)}</tspan>')
    shown += [f'<tspan class="flag">{html.escape(flag)}</tspan>' for flag in flags]
    return " + ".join(shown)


def render(text):
    header, notes, packets = parse(text)
    pitch = min(MAX_PITCH, (LEGEND_Y - 20 - SLANT - FIRST_Y) / max(1, len(packets) - 1))
    x_of = {"client": CLIENT_X, "server": SERVER_X}
    bottom = FIRST_Y + (len(packets) - 1) * pitch + SLANT + 24
    title = header["title"] or "A TCP exchange"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="18">',
        f"  <title>{html.escape(title)}: "
        + html.escape("; ".join(f"{s} → {'server' if s == 'client' else 'client'} {w}"
                                for s, w in packets))
        + "</title>",
        "  <!-- Drawn by slides/wire/sequence_svg.py from the .events file of the same name,",
        "       which slides/wire/capture.py captured: capture again, do not edit. -->",
        "  <defs>",
    ]
    for name, color in COLORS.items():
        out.append(
            f'    <marker id="head-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="4" markerHeight="4" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" '
            f'fill="{color}"/></marker>'
        )
    out += [
        "    <style>",
        "      .side { font-size: 26px; font-weight: bold; text-anchor: middle; fill: #111827; }",
        f"      .program {{ font-family: {MONO}; font-size: 16px;"
        " text-anchor: middle; fill: #374151; }",
        "      .lifeline { stroke: #9ca3af; stroke-width: 2; stroke-dasharray: 6 6; }",
        "      .label { font-size: 18px; text-anchor: middle; fill: #111827; }",
        "      .flag { font-weight: bold; }",
        f"      .bytes {{ font-family: {MONO}; font-size: 16px; }}",
        f"      .note {{ font-family: {MONO}; font-size: 15px;"
        " fill: #1b3a57; }",
        "      .legend { font-size: 15px; fill: #374151; }",
        "    </style>",
        "  </defs>",
        f'  <rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    # The two sides: a box with the side's name and its program, and its lifeline.
    for side, x, fill, stroke in (
        ("client", CLIENT_X, "#dcfce7", "#15803d"),
        ("server", SERVER_X, "#dbeafe", "#1d4ed8"),
    ):
        out += [
            f'  <rect x="{x - 150}" y="16" width="300" height="72" rx="10" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="2"/>',
            f'  <text class="side" x="{x}" y="48">{side}</text>',
            f'  <text class="program" x="{x}" y="74">{html.escape(header[side])}</text>',
            f'  <line class="lifeline" x1="{x}" y1="88" x2="{x}" y2="{number(bottom)}"/>',
        ]
    # One arrow a packet, its label above it, along its slope.
    ends_of = {}
    for index, (sender, what) in enumerate(packets):
        receiver = "server" if sender == "client" else "client"
        x1, x2 = x_of[sender], x_of[receiver]
        y1 = FIRST_Y + index * pitch
        y2 = y1 + SLANT
        name = kind(what)
        # The arrow stops short of the lifeline, so its head is seen whole.
        end_x = x2 - 4 if x2 > x1 else x2 + 4
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
        if angle > 90:
            angle -= 180  # text reads left to right, on either arrow
        ends_of[index + 1] = (y1, y2)
        middle_x, middle_y = (x1 + x2) / 2, (y1 + y2) / 2 - 9
        out += [
            f'  <line x1="{x1}" y1="{number(y1)}" x2="{end_x}" y2="{number(y2)}" '
            f'stroke="{COLORS[name]}" stroke-width="3" marker-end="url(#head-{name})"/>',
            f'  <text class="label" x="{number(middle_x)}" y="{number(middle_y)}" '
            f'transform="rotate({number(angle)} {number(middle_x)} {number(middle_y)})">'
            f"{label(what)}</text>",
        ]
    # Notes: what a program's call did, beside its lifeline, at that arrow's end.
    for packet, side, text in notes:
        y1, y2 = ends_of[packet]
        sender = packets[packet - 1][0]
        y = (y1 if side == sender else y2) + 5
        if side == "client":
            x, anchor = CLIENT_X - 14, "end"
        else:
            x, anchor = SERVER_X + 14, "start"
        out.append(
            f'  <text class="note" x="{x}" y="{number(y)}" text-anchor="{anchor}">'
            f"{html.escape(text)}</text>"
        )
    # The legend: what the colors mean, and what was left out.
    out.append(f'  <line x1="40" y1="{LEGEND_Y}" x2="{WIDTH - 40}" y2="{LEGEND_Y}" '
               'stroke="#e5e7eb" stroke-width="2"/>')
    x, y = 40, LEGEND_Y + 28
    for name, text in LEGEND:
        out += [
            f'  <line x1="{x}" y1="{y - 5}" x2="{x + 34}" y2="{y - 5}" stroke="{COLORS[name]}" '
            f'stroke-width="3" marker-end="url(#head-{name})"/>',
            f'  <text class="legend" x="{x + 44}" y="{y}">{html.escape(text)}</text>',
        ]
        x += 44 + round(len(text) * 8.5) + 36  # about the text's width, then a gap
    captured = header["legend"] or (
        "From a real capture (tcpdump -i lo). Left out: the pure ACKs after the handshake, "
        "whose timing varies (delayed ACK)."
    )
    out += [
        f'  <text class="legend" x="40" y="{LEGEND_Y + 62}">{html.escape(captured)}</text>',
        "</svg>",
        "",
    ]
    return "\n".join(out)


def main(argv):
    if len(argv) == 1 and not argv[0].startswith("-"):
        sys.stdout.write(render(Path(argv[0]).read_text(encoding="utf-8")))
        return 0
    if len(argv) != 2 or argv[0] not in ("--update", "--check"):
        print("usage: sequence_svg.py EVENTS | --update DIR | --check DIR", file=sys.stderr)
        return 2
    mode, folder = argv[0], Path(argv[1])
    events = sorted(folder.glob("*.events"))
    if not events:
        print(f"error: no .events files in {folder}", file=sys.stderr)
        return 1
    drifted = []
    for path in events:
        svg = path.with_suffix(".svg")
        want = render(path.read_text(encoding="utf-8"))
        have = svg.read_text(encoding="utf-8") if svg.exists() else None
        if have == want:
            continue
        if mode == "--update":
            svg.write_text(want, encoding="utf-8")
            print(f"wrote {svg}")
        else:
            drifted.append(f"{svg}: {'missing' if have is None else 'differs from'} what "
                           f"{path.name} makes")
    for svg in sorted(folder.glob("*.svg")):
        if not svg.with_suffix(".events").exists():
            drifted.append(f"{svg}: no {svg.with_suffix('.events').name} to draw it from")
    for line in drifted:
        print(f"error: {line}", file=sys.stderr)
    if drifted:
        print("error: python3 slides/wire/sequence_svg.py --update slides/wire draws them again",
              file=sys.stderr)
        return 1
    if mode == "--check":
        print(f"{len(events)} diagrams match their events")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (BadEvents, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
