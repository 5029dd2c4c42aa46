# SPDX-License-Identifier: GPL-2.0-or-later
"""livecap.py - helpers shared by the live-capture tests (cli.py, live.py)."""

import os
import re
import socket


def packet_socket_open(pid):
    """True once pid holds a packet socket (the capture is open)."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            if m:
                inodes.add(m.group(1))
        with open("/proc/net/packet") as f:
            next(f)
            return any(line.split()[-1] in inodes for line in f if line.strip())
    except OSError:
        return False


def free_port():
    """A TCP port free on 127.0.0.1 now (an ephemeral one: never 25)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
