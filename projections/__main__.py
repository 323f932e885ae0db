"""The projector worker and its commands.

    python -m projections            # run: follow the streams, keep the views (with /health, /lag)
    python -m projections rebuild [--fresh] [--batch N]
                                     # replay everything into a new generation, then switch
    python -m projections verify     # compare the views with a fresh fold of the streams
    python -m projections status     # how far behind the live projector is
"""

from __future__ import annotations

import json
import sys

from projections.mongo_store import STATUS, connect
from projections.rebuild import rebuild, verify
from projections.sources import stream_readers
from shared.config import Settings


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    settings = Settings.from_env()
    db = connect(settings.mongo_url)[settings.views_db]
    if command == "run":
        from projections.process import run

        run(settings, db)
        return 0
    readers = stream_readers(settings)
    if command == "rebuild":
        batch = int(argv[argv.index("--batch") + 1]) if "--batch" in argv else 5000
        rebuild(db, readers, batch_size=batch, fresh="--fresh" in argv, progress=_say)
        return 0
    if command == "verify":
        problems = verify(db, readers)
        for p in problems[:50]:
            print(p)
        print(f"{len(problems)} difference(s)")
        return 1 if problems else 0
    if command == "status":
        print(json.dumps(db[STATUS].find_one({"_id": "live"}), default=str, indent=2))
        return 0
    print(__doc__)
    return 2


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
