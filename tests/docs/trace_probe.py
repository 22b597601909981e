#!/usr/bin/python3
"""A program that makes every kind of record the trace writes, for
check_docs.py to read the keys from (and for accept4shim-trace(5)'s
examples): run it with the library preloaded, ACCEPT4SHIM_STATS=1 and
ACCEPT4SHIM_STATS_INTERVAL=1. It accepts on TCP, fails once with EAGAIN on
an empty non-blocking listener, accepts on an abstract AF_UNIX listener,
waits past the interval so that its next call writes an interval summary,
and exits normally (the exit summary)."""
import socket
import time

tcp = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(tcp.getsockname())
conn, _ = tcp.accept()
conn.close()
client.close()

tcp.setblocking(False)
try:
    tcp.accept()
except BlockingIOError:
    pass

unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
unix.bind("\0accept4shim-doc")
unix.listen()
peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
peer.connect("\0accept4shim-doc")
conn, _ = unix.accept()
conn.close()

time.sleep(1.1)
client = socket.create_connection(tcp.getsockname())
tcp.setblocking(True)
conn, _ = tcp.accept()
conn.close()
client.close()
