#!/usr/bin/env python3
"""Captures the key exchanges of the lessons, for the slides' sequence diagrams.

    python3 slides/wire/capture.py --check  [--build DIR] [NAME...]   # CTest: wire
    python3 slides/wire/capture.py --update [--build DIR] [NAME...]   # ./workshop slides --update

For each diagram NAME (thank-you, half-close, reset; all by default) it starts
the real programs from DIR (default build/) on a free port, captures that port
on loopback with tcpdump, runs the exchange, and turns the capture into events
with DIR/tests/wire_events. --check fails when those events are not the ones
committed in slides/wire/NAME.events; --update writes them, and the SVG drawn
from them (sequence_svg.py). A capture needs the right to capture (root, or
CAP_NET_RAW): without it, --check skips (exit 77, saying why) and --update
keeps the committed captures.

What makes a capture come out the same every time:
- Each step waits for the one before it (a line printed, an echo read, a
  program's exit), so the packets that carry data, FIN or RST are sent in one
  order only. No sleeps: every wait is on an event, with a deadline.
- The pure ACKs after the handshake are left out. When the kernel acknowledges
  (at once, or up to 40 ms later with delayed ACK, or together with data) is
  timing, not the exchange; the legend of each diagram says they are missing.
- The exchange starts only once tcpdump has printed a datagram we send to
  ourselves on another port ("listening on" alone is not enough when other
  captures start at the same time), and tcpdump is stopped only once it has
  printed a last one: it reads the packets in order, so every packet of the
  exchange is in the file by then (a signal alone can lose the last ones).
"""
import argparse
import difflib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import sequence_svg  # noqa: E402  (beside this file)

PATIENCE = 10.0  # seconds: the longest any step may take
SKIP = 77  # CTest's SKIP_RETURN_CODE for the wire tests


class Failed(Exception):
    pass


class CannotCapture(Exception):
    pass


# What the programs did that they should not (an exit code, a line missing):
# said with the difference in the events, which shows what it changed on the wire.
remarks = []


def deadline():
    return time.monotonic() + PATIENCE


class Program:
    """A program started with its output on a pipe, read a line at a time with a deadline."""

    running = []  # every one started, so that a failed step leaves none behind

    def __init__(self, command, name, stdin=subprocess.DEVNULL):
        self.name = name
        self.process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self.buffer = b""
        self.output = []
        Program.running.append(self.process)

    @staticmethod
    def kill_the_rest():
        for process in Program.running:
            if process.poll() is None:
                process.kill()
                process.wait()
        Program.running.clear()

    def wait_for_line(self, pattern, until, or_none=False):
        """The first line from now on that matches; at the deadline None (or_none) or Failed."""
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    self.output.append(text)
                    match = re.search(pattern, text)
                    if match:
                        return match
                left = until - time.monotonic()
                if left <= 0 or not selector.select(left):
                    if or_none:
                        return None
                    raise Failed(f"{self.name} did not print /{pattern}/ in {PATIENCE:.0f} s; "
                                 f"it printed: {self.output}")
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise Failed(f"{self.name} ended before printing /{pattern}/; "
                                 f"it printed: {self.output}")
                self.buffer += chunk
        finally:
            selector.close()

    def stop(self):
        """Ctrl-C, as a person stops a server; it must exit 0."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failed(f"{self.name} did not stop at SIGINT")
        finally:
            self.process.stdout.close()
        if status != 0:
            raise Failed(f"{self.name} exited {status} at SIGINT")


def start_server(build, program, *arguments):
    server = Program([str(build / program), "--port", "0", *arguments], program)
    port = int(server.wait_for_line(r"port (\d+)", deadline())[1])
    return server, port


def run_to_the_end(command, name):
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        raise Failed(f"{name} did not finish in {PATIENCE:.0f} s")
    if done.returncode != 0:
        remarks.append(f"{name} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return done.stdout


# --- the exchanges: each starts its server, then (while tcpdump listens) its client ------

def thank_you(build, scratch, capture):
    """spoon2-echo/server thanks spoon2-echo/client, and closes; the client reads to the end."""
    server, port = start_server(build, "spoon2-echo/server", "--log", str(scratch / "file.txt"))
    with capture(port):
        run_to_the_end([str(build / "spoon2-echo/client"), "--port", str(port)], "client")
    server.stop()
    return port


def half_close(build, scratch, capture):
    """echo_client sends a line and reads its echo, then half-closes; then the server closes."""
    server, port = start_server(build, "spoon2-echo/echo_server")
    with capture(port):
        client = Program([str(build / "spoon2-echo/echo_client"), "--port", str(port)],
                         "echo_client", stdin=subprocess.PIPE)
        client.process.stdin.write(b"hello\n")
        client.process.stdin.flush()
        try:
            client.wait_for_line(r"^hello$", deadline())  # the echo is back: now the end of input
        except Failed as why:
            remarks.append(str(why))
        try:
            client.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            status = client.process.wait(PATIENCE)  # it exits once the server has closed too
        except subprocess.TimeoutExpired:
            client.process.kill()
            raise Failed("echo_client did not exit after its input ended")
        finally:
            client.process.stdout.close()
        if status != 0:
            remarks.append(f"echo_client exited {status}, saying {client.output}")
        server.wait_for_line(r"^Closed .* after echoing", deadline())
    server.stop()
    return port


def reset(build, scratch, capture):
    """A client closes with the echo still unread in its receive buffer: RST, not FIN."""
    server, port = start_server(build, "spoon2-echo/echo_server")
    with capture(port):
        client = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        client.sendall(b"hello\n")
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ)
        if not selector.select(PATIENCE):  # the echo has arrived; we do not read it
            raise Failed("no echo came back")
        selector.close()
        client.close()  # unread data: the kernel resets the connection
        server.wait_for_line(r"^(dropped|Closed) ", deadline())  # done with that client
    server.stop()
    return port


# NAME: (exchange, title, client, server, notes). A note is (packet, side, text):
# it goes beside SIDE's lifeline at the first packet, from the previous note's
# on, whose line is PACKET.
C2S, S2C = "client → server  ", "server → client  "
DIAGRAMS = {
    "thank-you": (
        thank_you, "The thank-you server: a handshake, a thank-you, a FIN each way",
        "spoon2-echo/client", "spoon2-echo/server", [
            (C2S + "SYN", "client", "connect()"),
            (S2C + "SYN-ACK", "server", "(the kernel answers)"),
            (C2S + "ACK", "server", "accept() returns"),
            (S2C + '24 bytes "Thank you for connecting"', "server", "send()"),
            (S2C + '24 bytes "Thank you for connecting"', "client", "recv(): 24 bytes"),
            (S2C + "FIN", "server", "shutdown(), close()"),
            (S2C + "FIN", "client", "recv() returns 0"),
            (C2S + "FIN", "client", "close()"),
        ]),
    "half-close": (
        half_close, "The half-closed echo: the client's FIN ends its side only",
        "spoon2-echo/echo_client", "spoon2-echo/echo_server", [
            (C2S + "SYN", "client", "connect()"),
            (C2S + "ACK", "server", "accept() returns"),
            (C2S + '6 bytes "hello\\n"', "client", "send()"),
            (C2S + '6 bytes "hello\\n"', "server", "recv(): 6 bytes"),
            (S2C + '6 bytes "hello\\n"', "server", "send()"),
            (S2C + '6 bytes "hello\\n"', "client", "recv(): 6 bytes"),
            (C2S + "FIN", "client", "shutdown(SHUT_WR)"),
            (C2S + "FIN", "server", "recv() returns 0"),
            (S2C + "FIN", "server", "shutdown(), close()"),
            (S2C + "FIN", "client", "recv() returns 0"),
        ]),
    "reset": (
        reset, "close() with unread data: RST, not FIN",
        "a client that does not read", "spoon2-echo/echo_server", [
            (C2S + "SYN", "client", "connect()"),
            (C2S + "ACK", "server", "accept() returns"),
            (C2S + '6 bytes "hello\\n"', "client", "send()"),
            (S2C + '6 bytes "hello\\n"', "server", "send()"),
            (S2C + '6 bytes "hello\\n"', "client", "(not read)"),
            (C2S + "RST", "client", "close()"),
            (C2S + "RST", "server", "recv(): ECONNRESET"),
        ]),
}


# --- the capture ---------------------------------------------------------------

class Capture:
    """tcpdump on loopback, for one server port, from before the client starts to after it ends."""

    def __init__(self, pcap):
        self.pcap = pcap

    def __call__(self, port):
        self.port = port
        return self

    def __enter__(self):
        # Two datagrams to this socket (tcpdump captures its port too) mark the
        # start and the end; wire_events, asked for the server's port, leaves them out.
        self.marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.marker.bind(("127.0.0.1", 0))
        marker_port = self.marker.getsockname()[1]
        self.tcpdump = start_tcpdump(self.pcap, f"port {self.port} or udp port {marker_port}")
        try:
            # "listening on" is not yet "capturing": once tcpdump has printed a
            # packet sent after it, it sees every packet that follows.
            self.mark(b"start")
        except Failed:
            self.stop()
            raise
        return self

    def mark(self, what):
        """Sends WHAT to the marker port until tcpdump prints it: then it has all before it."""
        # Why again: with other captures starting at the same time, a packet sent
        # just after "listening on" is now and then never seen (libpcap 1.10,
        # Linux 6.x); the next one is. So the start waits until tcpdump sees a
        # datagram, sent again every 0.2 s, and the exchange starts only after.
        printed = rf"\.{self.marker.getsockname()[1]}: UDP, length {len(what)}$"
        until = deadline()
        while time.monotonic() < until:
            self.marker.sendto(what, self.marker.getsockname())
            if self.tcpdump.wait_for_line(printed, min(until, time.monotonic() + 0.2), True):
                return
        raise Failed(f"tcpdump did not print the datagrams sent to its marker port in "
                     f"{PATIENCE:.0f} s; it printed: {self.tcpdump.output}")

    def __exit__(self, kind, value, traceback):
        try:
            if kind is None:
                # Every packet of the exchange is in the kernel's queue for tcpdump
                # before this one: once tcpdump has printed it, the file has them all.
                self.mark(b"the end")
        finally:
            self.stop()
        return False

    def stop(self):
        self.marker.close()
        self.tcpdump.process.send_signal(signal.SIGINT)
        try:
            self.tcpdump.process.wait(PATIENCE)
        except subprocess.TimeoutExpired:
            self.tcpdump.process.kill()
            self.tcpdump.process.wait()
        rest = self.tcpdump.buffer + self.tcpdump.process.stdout.read()
        self.tcpdump.output += rest.decode("utf-8", "replace").splitlines()
        self.tcpdump.process.stdout.close()
        Capture.last_output = self.tcpdump.output  # what tcpdump saw, for a report


def start_tcpdump(pcap, expression):
    """tcpdump writing PCAP (-U: each packet at once), once it says 'listening on'."""
    # --print: also one line a packet on stdout, which is how we know what it has read.
    # Debian before 12 keeps it in /usr/sbin, which a user's PATH may lack.
    tcpdump = shutil.which("tcpdump") or shutil.which("tcpdump", path="/usr/sbin:/sbin")
    command = [tcpdump or "tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "--print", "-l",
               "-w", str(pcap), expression]
    try:
        tcpdump = Program(command, "tcpdump")
    except FileNotFoundError:
        raise CannotCapture("tcpdump is not installed (Debian: apt-get install tcpdump)")
    try:
        tcpdump.wait_for_line(r"^tcpdump: listening on", deadline())
    except Failed:
        tcpdump.process.wait()
        said = " ".join(tcpdump.output).strip() or "tcpdump did not start"
        raise CannotCapture(said)
    return tcpdump


def can_capture():
    """None, or why this user cannot capture on loopback."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            tcpdump = start_tcpdump(Path(scratch) / "probe.pcap", "udp port 9")
        except CannotCapture as why:
            return str(why)
        tcpdump.process.send_signal(signal.SIGINT)
        tcpdump.process.wait(PATIENCE)
        tcpdump.process.stdout.close()
    return None


def events_of(wire_events, pcap, port):
    """wire_events' lines for PORT, without the pure ACKs after the handshake."""
    done = subprocess.run([str(wire_events), str(pcap), str(port)], capture_output=True,
                          timeout=PATIENCE)
    if done.returncode != 0:
        raise Failed(f"wire_events: {done.stderr.decode(errors='replace').strip()}")
    kept = []
    for line in done.stdout.decode("utf-8").splitlines():
        handshake_ack = kept == [C2S + "SYN", S2C + "SYN-ACK"]
        if line.endswith("  ACK") and not handshake_ack:
            continue
        kept.append(line)
    return kept


def events_file(name, packets):
    """The text of NAME.events: a header for the diagram, then the packets."""
    _, title, client, server, notes = DIAGRAMS[name]
    lines = [
        f"# {name}: made by python3 slides/wire/capture.py --update {name} (do not edit)",
        "# The lines are what build/tests/wire_events prints for the capture, without",
        "# the pure ACKs after the handshake (their timing varies: delayed ACK).",
        f"# title: {title}",
        f"# client: {client}",
        f"# server: {server}",
    ]
    at = 0
    for packet, side, text in notes:
        try:
            at = packets.index(packet, at)
        except ValueError:
            lines.append(f"# (no packet '{packet}' for the note '{text}')")
            continue
        lines.append(f"# note: {at + 1} {side}: {text}")
    return "\n".join(lines + packets) + "\n"


def capture(name, build, wire_events):
    exchange = DIAGRAMS[name][0]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        pcap = scratch / f"{name}.pcap"
        try:
            port = exchange(build, scratch, Capture(pcap))
        finally:
            Program.kill_the_rest()
        return events_file(name, events_of(wire_events, pcap, port))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail when a capture differs")
    mode.add_argument("--update", action="store_true", help="write the events and SVGs")
    parser.add_argument("--build", type=Path, default=HERE.parent.parent / "build")
    parser.add_argument("--wire-events", type=Path, help="default: BUILD/tests/wire_events")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(DIAGRAMS))
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit:
        return 2 if exit.code else 0
    for name in options.names:
        if name not in DIAGRAMS:
            print(f"error: no diagram '{name}' (there are: {', '.join(DIAGRAMS)})", file=sys.stderr)
            return 2
    wire_events = options.wire_events or options.build / "tests" / "wire_events"
    why = can_capture()
    if why:
        if options.check:
            print(f"skipped: cannot capture on loopback here: {why}")
            return SKIP
        print(f"warning: cannot capture on loopback here ({why}): "
              "the committed captures in slides/wire/ stay as they are", file=sys.stderr)
        return 0
    if not wire_events.exists():
        print(f"error: no {wire_events} (build it: cmake --build build --target wire_events)",
              file=sys.stderr)
        return 1
    drifted = 0
    for name in options.names or DIAGRAMS:
        events = HERE / f"{name}.events"
        fresh = capture(name, options.build, wire_events)
        committed = events.read_text(encoding="utf-8") if events.exists() else ""
        said, remarks[:] = list(remarks), []
        if options.update and said:
            drifted += 1
            print(f"error: '{name}' not captured again: {'; '.join(said)}", file=sys.stderr)
        elif options.update:
            if fresh != committed:
                events.write_text(fresh, encoding="utf-8")
                print(f"wrote {events}")
            svg = events.with_suffix(".svg")
            drawn = sequence_svg.render(fresh)
            if not svg.exists() or svg.read_text(encoding="utf-8") != drawn:
                svg.write_text(drawn, encoding="utf-8")
                print(f"wrote {svg}")
        elif fresh != committed:
            drifted += 1
            print(f"error: a fresh capture of '{name}' differs from {events}:", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(
                committed.splitlines(True), fresh.splitlines(True), "committed", "captured"))
            for remark in said:
                print(f"  and: {remark}", file=sys.stderr)
            print("  tcpdump said:", *Capture.last_output, sep="\n    ", file=sys.stderr)
        else:
            print(f"{name}: the capture matches {events.name}")
    if drifted and options.check:
        print("error: if the programs changed on purpose, ./workshop slides --update "
              "captures them again (as root)", file=sys.stderr)
    if drifted:
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (Failed, sequence_svg.BadEvents, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
