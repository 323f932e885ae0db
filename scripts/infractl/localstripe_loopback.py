"""localstripe's server, bound to 127.0.0.1 and kept in memory.

``python -m localstripe`` always listens on every interface (``::``, IPv4 too) and,
after every POST or DELETE, pickles its whole store to ``/tmp/localstripe.pickle``, a
file every instance on the machine shares. This runs the same application
(``localstripe.server.app``) on 127.0.0.1 only, and never reads or writes that file
(``--from-scratch`` without the dump): a restart starts empty, like Redis here.

    python -m infractl.localstripe_loopback --port P

localstripe is GPL-3.0: it runs as this separate process for tests and development
and is never part of the product (see pyproject.toml).
"""

from __future__ import annotations

import argparse
import logging
import socket

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    # The store lives in this process only (see the docstring).
    resources.store.dump_to_disk = lambda: None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))

    # As localstripe's own start(): one access-log line per request, to stderr.
    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.DEBUG)
    access.addHandler(logging.StreamHandler())
    web.run_app(server.app, sock=sock, access_log=access, print=None)


if __name__ == "__main__":
    main()
