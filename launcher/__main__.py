"""Run the whole distributed system on the local servers until Ctrl-C.

    python -m launcher             # booking, inventory, payment (scripts/run does this)
    python -m launcher --embedded  # the embedded runtime's shell instead
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from launcher.processes import SERVICES, LocalSystem


def main(argv: list[str]) -> int:
    if "--embedded" in argv:
        from embedded.cli import main as embedded_main

        return embedded_main([a for a in argv if a != "--embedded"])
    env = {k: v for k, v in os.environ.items() if k.startswith("CINEMA_")}
    system = LocalSystem(env=env, log_dir=Path(".data/logs"))
    print("starting", ", ".join(SERVICES), "(logs in .data/logs/) ...", flush=True)
    try:
        system.start_all()
        for service in SERVICES:
            extra = "lag: /lag" if service == "projections" else "docs: /schema/swagger"
            print(f"  {service:<11} {system.url(service)}   {extra}")
        print("ready. Get a token: .venv/bin/python -m shared.http.auth ann   (Ctrl-C stops)")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping ...", flush=True)
        system.stop_all()
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # stop the services on kill as on Ctrl-C
    sys.exit(main(sys.argv[1:]))
