#!/usr/bin/env python3
"""tests/bench/talk_chat_server.py: the talk's threaded chat server, the bench's anchor.

The talk's Spoon 3 server (server, remove_connection, broadcast,
handle_user_connection: a thread per client, each sending to every other
client itself), with only its bugs fixed, each marked "fix:". It is what
`./workshop bench chat` measures spoon3-chat/server against.

    python3 tests/bench/talk_chat_server.py [--host ADDR] [--port N] [--timeout SECONDS]
"""
import argparse
import signal
import socket
import sys
import threading

connections = []
# fix: the talk shared the list between threads without a lock (a removal
# during a broadcast skips the next client).
connections_lock = threading.Lock()
# fix: two threads sending to one client at once can interleave their lines
# (sendall may take several sends): one lock per client, held for a message.
sending = {}
MAX_LINE = 4096  # fix: a client that never sends "\n" would grow its buffer without end


def remove_connection(conn: socket.socket, why: str) -> None:
    """Remove specified connection from connections list"""
    # fix: "if conn in connections" and the remove, in one step under the lock.
    with connections_lock:
        if conn not in connections:
            return
        connections.remove(conn)
        del sending[conn]
    print(f'Removed {conn_name(conn)}: {why}')
    try:
        # fix: shutdown, not close: it wakes the thread blocked in recv on it,
        # and that thread closes the socket when it ends.
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def conn_name(conn: socket.socket) -> str:
    try:
        host, port = conn.getpeername()[:2]
        return f'{host}:{port}'
    except OSError:
        return '?'


def broadcast(message: bytes, connection: socket.socket) -> None:
    """Broadcast message to all users connected to the server"""
    # fix: walk a copy; the list itself changes under us.
    with connections_lock:
        others = [(c, sending[c]) for c in connections if c != connection]
    for client_conn, lock in others:
        try:
            with lock:
                client_conn.sendall(message)  # fix: sendall, not send
        except Exception as e:
            print(f'Error broadcasting message: {e}')  # fix: the f of the f-string
            remove_connection(client_conn, 'timed out' if isinstance(e, TimeoutError) else str(e))


def handle_user_connection(connection: socket.socket, address) -> None:
    """Get user connection in order to keep receiving their messages and
    sent to others users/connections."""
    name = f'{address[0]}:{address[1]}'
    pending = b''
    while True:
        try:
            msg = connection.recv(1024)
            if msg:
                # fix: one recv is not one message (no EOT on a socket): cut
                # the stream at each "\n"; bytes, not decode(), so a character
                # split between two recvs is no error.
                pending += msg
                *lines, pending = pending.split(b'\n')
                for line in lines:
                    print(f'{name} - {line.decode(errors="replace")}')
                    msg_to_send = f'From {name} - '.encode() + line + b'\n'
                    broadcast(msg_to_send, connection)
                if len(pending) > MAX_LINE:
                    remove_connection(connection, f'line longer than {MAX_LINE} bytes')
                    break
            else:
                remove_connection(connection, 'left')
                break
        except TimeoutError:
            continue  # fix: the time-out is for sends; a quiet client may stay
        except Exception as e:
            print(f'Error to handle user connection: {e}')
            remove_connection(connection, str(e))
            break
    connection.close()


def server() -> None:
    """Main process that receive client's connections and start a new thread
    to handle their messages"""
    parser = argparse.ArgumentParser(description='The talk\'s threaded chat server, fixed.')
    parser.add_argument('--host', default='')
    parser.add_argument('--port', type=int, default=12000)
    parser.add_argument('--timeout', type=float, default=5)
    args = parser.parse_args()
    # fix: a stop (SIGTERM) ends the program; the client threads are daemons.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    socket_instance = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        socket_instance.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        socket_instance.bind((args.host, args.port))  # fix: one address tuple, not two arguments
        socket_instance.listen(4)
        print(f'Server running on port {socket_instance.getsockname()[1]}', flush=True)

        while True:
            socket_connection, address = socket_instance.accept()
            # fix: a client that never reads would block its senders forever:
            # a send that waits longer than this fails, and that client is dropped.
            socket_connection.settimeout(args.timeout)
            with connections_lock:
                connections.append(socket_connection)
                sending[socket_connection] = threading.Lock()
            threading.Thread(target=handle_user_connection, args=[socket_connection, address],
                             daemon=True).start()

    except Exception as e:
        print(f'An error has occurred when instancing socket: {e}', file=sys.stderr)
        sys.exit(1)
    finally:
        # fix: the talk removed from the list it was walking (every other one skipped).
        with connections_lock:
            everyone = list(connections)
        for conn in everyone:
            remove_connection(conn, 'server stopping')

        socket_instance.close()


if __name__ == '__main__':
    server()
