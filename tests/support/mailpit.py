"""What Mailpit received, read over its API (``/api/v1``), and Mailpit stopped for a while.

Mailpit stores every message it accepts, a second copy of one message too, and shows
each with its ``Message-ID`` (without the angle brackets): a test finds a notification's
email by that id and counts its copies, so a duplicate send is seen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from scripts.infractl import config as infra_config
from scripts.infractl.mailpit import Mailpit
from tests.support.paths import ROOT
from tests.support.servers import infra


def bare(message_id: str) -> str:
    """A Message-ID as Mailpit shows it: without ``<`` and ``>``."""
    return message_id.strip().removeprefix("<").removesuffix(">")


@dataclass(frozen=True)
class StoredEmail:
    """One message as Mailpit stored it."""

    id: str  # Mailpit's own id
    message_id: str  # bare
    subject: str
    sender: str
    to: list[str]
    text: str
    html: str
    inline: list[dict[str, Any]]  # PartID, FileName, ContentType, ContentID, Size
    attachments: list[dict[str, Any]]


class MailpitApi:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = httpx.Client(base_url=f"{self.base}/api/v1", timeout=10)

    def close(self) -> None:
        self.http.close()

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    # --- finding messages --------------------------------------------------

    def summaries(self, query: str = "") -> list[dict[str, Any]]:
        """Every stored message's summary (newest first), or those a search query finds
        (Mailpit's syntax: ``message-id:"..."``, ``to:...``, ``subject:...``)."""
        found: list[dict[str, Any]] = []
        while True:
            params: dict[str, str | int] = {"start": len(found), "limit": 500}
            if query:
                response = self.http.get("/search", params={**params, "query": query})
            else:
                response = self.http.get("/messages", params=params)
            response.raise_for_status()
            page = response.json()["messages"]
            found.extend(page)
            if len(page) < 500:
                return found

    def with_message_id(self, message_id: str) -> list[dict[str, Any]]:
        """The summaries of every stored copy of this message (a search matches parts of
        ids too: only exact ones are kept)."""
        wanted = bare(message_id)
        return [summary for summary in self.summaries(f'message-id:"{wanted}"')
                if summary["MessageID"] == wanted]

    def copies(self, message_id: str) -> int:
        return len(self.with_message_id(message_id))

    def wait_for(self, message_id: str, copies: int = 1, timeout: float = 10) -> list[StoredEmail]:
        """The stored copies once there are at least ``copies`` (the SMTP answer comes as
        Mailpit stores a message, so this rarely waits); fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(found := self.with_message_id(message_id)) < copies:
            assert time.monotonic() < deadline, (
                f"{len(found)} of {copies} copies of {message_id} in Mailpit")
            time.sleep(0.05)
        return [self.message(summary["ID"]) for summary in found]

    # --- one message -------------------------------------------------------

    def message(self, mailpit_id: str) -> StoredEmail:
        response = self.http.get(f"/message/{mailpit_id}")
        response.raise_for_status()
        data = response.json()
        return StoredEmail(
            id=data["ID"], message_id=data["MessageID"], subject=data["Subject"],
            sender=data["From"]["Address"], to=[to["Address"] for to in data["To"]],
            text=data["Text"], html=data["HTML"], inline=data["Inline"],
            attachments=data["Attachments"],
        )

    def headers(self, mailpit_id: str) -> dict[str, list[str]]:
        """Its headers as sent (names as Mailpit spells them: ``Message-Id``, ...)."""
        response = self.http.get(f"/message/{mailpit_id}/headers")
        response.raise_for_status()
        return dict(response.json())

    def part(self, mailpit_id: str, part_id: str) -> bytes:
        """An attachment's or inline image's bytes (``PartID`` of ``inline``)."""
        response = self.http.get(f"/message/{mailpit_id}/part/{part_id}")
        response.raise_for_status()
        return response.content

    def raw(self, mailpit_id: str) -> bytes:
        response = self.http.get(f"/message/{mailpit_id}/raw")
        response.raise_for_status()
        return response.content

    # --- removing ----------------------------------------------------------

    def delete(self, mailpit_ids: list[str]) -> None:
        if mailpit_ids:
            self.http.request("DELETE", "/messages", json={"IDs": mailpit_ids}).raise_for_status()

    def delete_message_id(self, message_id: str) -> None:
        self.delete([summary["ID"] for summary in self.with_message_id(message_id)])

    def delete_all(self) -> None:
        """Every message: only where nothing else (another test, a developer) reads them."""
        self.http.request("DELETE", "/messages").raise_for_status()

    # --- failures on demand ------------------------------------------------

    @contextmanager
    def refusing(self, what: str, code: int) -> Iterator[None]:
        """The SMTP server refuses every ``"Sender"`` or ``"Recipient"`` with ``code`` for the
        block (Mailpit's chaos triggers, which scripts/infra enables), then takes all again."""
        response = self.http.put("/chaos", json={what: {"ErrorCode": code, "Probability": 100}})
        response.raise_for_status()
        try:
            yield
        finally:
            self.http.put("/chaos", json={}).raise_for_status()


def this_checkouts_mailpit(api: MailpitApi) -> Mailpit:
    """The Mailpit scripts/infra runs for this checkout, which ``api`` must be talking to:
    a test stops only that one."""
    server = Mailpit(infra_config.load(ROOT))
    assert server.pid() is not None and server.cfg.mailpit_api == api.base, (
        f"{api.base} is not the Mailpit scripts/infra runs for this checkout")
    return server


@contextmanager
def mailpit_stopped(api: MailpitApi) -> Iterator[Mailpit]:
    """Mailpit stopped for the block (``scripts/infra down mailpit``), started again after
    it (``scripts/infra up mailpit``), with what it had stored."""
    server = this_checkouts_mailpit(api)
    stopped = infra("down", "mailpit")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    try:
        yield server
    finally:
        started = infra("up", "mailpit")
        assert started.returncode == 0, started.stdout + started.stderr
