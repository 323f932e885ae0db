"""localstripe (PyPI, in the project's .venv): a local Stripe API on 127.0.0.1.

It emulates PaymentIntents, refunds and webhooks well enough for the payment provider's
tests (payment/stripe_provider.py); what it does not do is in docs/infra.md. Its state
is in memory only, so a restart starts empty. It is started through
``localstripe_loopback`` rather than ``python -m localstripe``, which listens on every
interface and writes a pickle shared by every instance on the machine.
"""

from __future__ import annotations

import importlib.util
import os
import urllib.error
import urllib.request
from pathlib import Path

from .config import HOST, Config
from .procs import (
    InfraError,
    LaunchedServer,
    cmdline,
    pid_alive,
    read_pid,
)

MODULE = "infractl.localstripe_loopback"
SCRIPTS = Path(__file__).resolve().parents[1]
# Any key starting with sk_ authenticates; `answers` needs one to get past the 401.
PROBE_KEY = "sk_test_infra_probe"


class LocalStripe(LaunchedServer):
    name = "stripe"
    title = "localstripe"
    # SIGTERM: aiohttp closes its sockets and exits.
    stop_grace = 10

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        # The checkout's own interpreter: its path names the checkout in the command line,
        # by which `status` and `down` know the process as ours.
        self.python = cfg.root / ".venv" / "bin" / "python"
        self.marker = self.python
        self.strays_marked_by = (self.command,)

    @property
    def where(self) -> str:
        return f"{HOST}:{self.cfg.stripe_port}"

    @property
    def api_base(self) -> str:
        return f"http://{self.where}"

    @property
    def command(self) -> str:
        """The start of its command line: this checkout's interpreter running the module."""
        return f"{self.python} -m {MODULE} "

    def pid(self) -> int | None:
        # The interpreter alone would also match this checkout's tests and services.
        pid = read_pid(self.pidfile)
        if pid and pid_alive(pid) and cmdline(pid).startswith(self.command):
            return pid
        return None

    def answers(self) -> bool:
        """An authenticated list of PaymentIntents answers 200 once the API is up."""
        request = urllib.request.Request(
            f"{self.api_base}/v1/payment_intents?limit=1",
            headers={"Authorization": f"Bearer {PROBE_KEY}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def ports(self) -> tuple[int, ...]:
        return (self.cfg.stripe_port,)

    def ensure_installed(self) -> str:
        """localstripe comes with the project's test extras (scripts/bootstrap)."""
        if not self.python.exists():
            raise InfraError(f"stripe: {self.python} is missing: run scripts/bootstrap")
        # scripts/infra runs with that interpreter: its import path is the one to ask.
        if importlib.util.find_spec("localstripe") is None:
            raise InfraError(
                "stripe: localstripe is not installed in .venv: run scripts/bootstrap "
                "(it is one of the test extras)"
            )
        return "installed"

    # --- start and stop ----------------------------------------------------

    def prepare(self) -> None:
        self.ensure_installed()
        super().prepare()

    def argv(self) -> list[str]:
        return [str(self.python), "-m", MODULE, "--port", str(self.cfg.stripe_port), "--host", HOST]

    def env(self) -> dict[str, str]:
        return _env_with_path(SCRIPTS)

    def cwd(self) -> Path:
        # -m puts the working directory first on sys.path: scripts/ holds only infractl.
        return SCRIPTS


def _env_with_path(scripts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(scripts)
    env["PYTHONUNBUFFERED"] = "1"  # its access log reaches the log file as it happens
    return env
