"""A child process for the concurrency and crash tests: python proc_worker.py MODE DB N [START].

MODE ``setup`` configures the database; ``create`` creates N leads one by
one (each its own unit of work); ``import`` imports N rows with external ids
in small chunks.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from desk_helpers import org, row
from leadflow.desk import LeadDesk
from leadflow.model import Origin
from leadflow.stages import lead_management
from leadflow.storage.sqlite import SQLiteStore


def rows(n: int, start: int = 0) -> list[dict[str, str]]:
    return [row(f"P{i}", "Worker", external_id=f"W-{i}") for i in range(start, start + n)]


def main() -> None:
    mode, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tag = sys.argv[4] if len(sys.argv) > 4 else "x"
    store = SQLiteStore(db)
    if mode == "setup":
        LeadDesk.configure(store, org(), actor=None)
        return
    desk = LeadDesk(store, playbook=lead_management())
    if mode == "create":
        for i in range(n):
            desk.create_lead(
                row(f"{tag}{i}", "Proc"), source="purchased_leads", actor=None, origin=Origin.API
            )
    elif mode == "import":
        desk.import_rows(rows(n), source="purchased_leads", actor=1, chunk_size=50)
    store.close()


if __name__ == "__main__":
    main()
