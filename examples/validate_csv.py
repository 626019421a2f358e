"""Validate a lead CSV file and print what each row became, or why it was refused.

Usage: python examples/validate_csv.py [FILE.csv] [SOURCE_KEY]

Defaults to the sample file beside this script and the source ``referral``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from leadflow.errors import ValidationError
from leadflow.validate import RowValidator, map_columns


def main(path: Path, source: str) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            map_columns(reader.fieldnames or [])  # check the header once
        except ValidationError as error:
            print(f"{path}: cannot map the header: {error}", file=sys.stderr)
            return 2
        validator = RowValidator(source=source)
        accepted = refused = 0
        for number, row in enumerate(reader, start=1):
            try:
                draft = validator.validate(row, row_number=number)
            except ValidationError as error:
                refused += 1
                for problem in error.errors:
                    print(f"row {number}: REFUSED {problem}")
                continue
            accepted += 1
            contact, lead = draft.contact, draft.attributes
            print(
                f"row {number}: ok {contact.name} <{contact.email or contact.cell_phone}> "
                f"{lead.loan_purpose} {lead.loan_amount or '-'} {lead.property_state or '-'}"
            )
    print(f"{accepted} accepted, {refused} refused")
    return 0


if __name__ == "__main__":
    here = Path(__file__).parent
    file = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "sample_leads.csv"
    sys.exit(main(file, sys.argv[2] if len(sys.argv) > 2 else "referral"))
