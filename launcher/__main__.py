"""Run the whole distributed system on the local servers until Ctrl-C.

    python -m launcher                # every registered service and the projector (scripts/run)
    python -m launcher --instances 2  # two instances of each service
    python -m launcher --embedded     # the embedded runtime's shell instead

Instance n of a service answers HTTP on its first instance's port + 10 x (n - 1):
booking-2 on 8011 by default.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from launcher.processes import LocalSystem


def main(argv: list[str]) -> int:
    if "--embedded" in argv:
        from embedded.cli import main as embedded_main

        return embedded_main([a for a in argv if a != "--embedded"])
    env = {k: v for k, v in os.environ.items() if k.startswith("CINEMA_")}
    system = LocalSystem(env=env, log_dir=Path(".data/logs"))
    instances = int(argv[argv.index("--instances") + 1]) if "--instances" in argv else 1
    system.add_instances(instances, lambda svc, n: system.settings.service_port(svc) + 10 * (n - 1))
    print("starting", ", ".join(system.processes), "(logs in .data/logs/) ...", flush=True)
    try:
        system.start_all()
        width = max(map(len, system.processes))
        for process in system.processes:
            extra = "lag: /lag" if process == "projections" else "docs: /schema/swagger"
            print(f"  {process:<{width}} {system.url(process)}   {extra}", flush=True)
        s = system.settings
        where = f" at {s.stripe_api_base or 'api.stripe.com'}" if s.gateway.provider == "stripe" else ""
        print(f"  payment provider: {s.gateway.provider}{where}", flush=True)
        print("ready. Get a token: .venv/bin/python -m shared.http.auth ann   (Ctrl-C stops)", flush=True)
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
