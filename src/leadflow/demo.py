"""``leadflow demo``: a narrated end-to-end run on generated data.

An organisation with two teams and three routing policies, 500 generated
leads routed from a CSV file into a fresh SQLite store (a few rejected, a
few held as exceptions), a loan officer's queue, dispositions and a
follow-up, a day of aging, the exception list and the weekly report. It
uses only the public library, the way a host application would.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from leadflow.batch import init_store, open_desk, route_file
from leadflow.io.csvfiles import lead_template_header
from leadflow.io.orgconfig import org_config_from_toml
from leadflow.io.reports import write_report_rows, write_report_summary

__all__ = ["DEMO_CONFIG", "run_demo"]

#: The demo organisation, in the format of ``leadflow init --config``.
DEMO_CONFIG = files("leadflow").joinpath("demo_org.toml").read_text(encoding="utf-8")

_FIRST = ["Annie", "Robert", "Maya", "Luis", "Grace", "Omar", "Chloe", "Ethan", "Nina", "Victor"]
_LAST = ["Quince", "Hale", "Park", "Ortiz", "Byrne", "Nash", "Reyes", "Stone", "Woods", "Kaur"]
_PURPOSES = ["Purchase", "Refinance - No Cash Out", "Refinance - Cash Out", "HELOC", "TBD"]
# states weighted; NV and AZ are licensed to nobody: those leads become exceptions
_STATES = ["TX"] * 40 + ["OK"] * 15 + ["FL"] * 30 + ["GA"] * 10 + ["NV"] * 3 + ["AZ"] * 2


def _write_leads(path: Path, count: int, seed: int = 7) -> None:
    """A lead file like a partner would send: mostly good, a few bad rows."""
    rnd = random.Random(seed)
    header = lead_template_header()
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        for i in range(count):
            first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            row = dict.fromkeys(header, "")
            row.update(
                first_name=first,
                last_name=f"{last}{i}",
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                cell_phone=f"(512) 55{rnd.randrange(10)}-{rnd.randrange(1000, 9999)}",
                loan_purpose=rnd.choice(_PURPOSES),
                loan_amount=str(rnd.randrange(80, 900) * 1000),
                property_state=rnd.choice(_STATES),
                property_zip=f"{rnd.randrange(0, 99999):05d}",
                external_id=f"ACME-{i:05d}",
            )
            if i % 97 == 13:
                row["email"] = "not-an-email@"  # rejected: the field is named in rejected.csv
            if i % 151 == 40:
                row["loan_purpose"] = "Purchse"  # rejected, with a suggestion
            writer.writerow({k: v for k, v in row.items() if k in header})


def run_demo(say: Callable[[str], None], *, db: Path | None = None, leads: int = 500) -> None:
    """Run the demo, printing through ``say``; the store is ``db`` or a temporary file."""
    with tempfile.TemporaryDirectory(prefix="leadflow-demo-") as tmp:
        work = Path(tmp)
        store_path = db or work / "demo.db"
        if store_path.exists():
            store_path.unlink()
        zone = ZoneInfo("America/Chicago")
        monday = datetime(2026, 3, 9, 9, 0, tzinfo=zone)

        say("leadflow demo: one week at Acme Lending\n")
        org = org_config_from_toml(DEMO_CONFIG, name="demo org.toml")
        init_store(store_path, org, at=monday)
        config = org.config
        say(
            f"1. The organisation: {len(config.users)} loan officers in {len(config.teams)}"
            f" teams, {len(config.policies)} routing policies, {len(config.sources)} lead"
            f" sources, the '{config.settings.playbook}' playbook. Stored in {store_path}."
        )

        csv_path = work / "leads.csv"
        _write_leads(csv_path, leads)
        desk = open_desk(store_path, now=monday)
        try:
            summary = route_file(
                csv_path, source="purchased_leads", out_dir=work / "out", desk=desk
            )
            say(
                f"\n2. Routed {summary.rows} leads from a partner's CSV file"
                f" (source 'purchased_leads': West round robin, East as the fallback):"
            )
            say(
                f"   {summary.assigned} assigned + {summary.unassigned} held as exceptions"
                f" + {summary.rejected} rejected + {summary.duplicates} duplicates"
                f" = {summary.rows} rows"
            )
            with summary.outputs["rejected"].open(encoding="utf-8") as rejected:
                first_bad = next(csv.DictReader(rejected), None)
            if first_bad is not None:
                say(f"   e.g. row {first_bad['row']} rejected: {first_bad['errors']}")
            for user in config.users:
                count = len(desk.queue(user.user_id, limit=None))
                say(f"   {user.first_name:<7} {user.last_name:<7} {count:>4} leads in queue")

            officer = 2
            say("\n3. Maria's call queue, Monday morning (top 5):")
            entries = desk.queue(officer, limit=5)
            for entry in entries:
                lead = entry.lead
                say(
                    f"   {lead.attributes.loan_purpose!s:<24} {lead.attributes.property_state}"
                    f"  ${lead.attributes.loan_amount or 0:>9,.0f}  ({entry.reason})"
                )

            say("\n4. Maria works her first three leads:")
            first, second, third = (e.lead.lead_id for e in entries[:3])
            desk.log_outcome(first, "left_vm", actor=officer, note="Left a voicemail")
            say("   - left a voicemail on the first (Contact Attempted; it comes back later)")
            desk.log_outcome(second, "spoke", actor=officer, note="Wants rates Friday")
            desk.schedule_follow_up(
                second, monday + timedelta(days=4), actor=officer, notes="Call with rates"
            )
            say("   - spoke with the second (Engaged) and set a call-back for Friday")
            desk.set_stage(third, "application_submitted", actor=officer)
            say("   - the third submitted an application")
            for event in desk.history(third):
                say(f"       {event.at:%a %H:%M}  {event.describe()}")

            friday = monday + timedelta(days=4, hours=1)
            aged = desk.advance(friday)
            say(
                f"\n5. Time passes: advancing to Friday applies the playbook's aging to the"
                f" leads that were due ({aged.leads} changed, {aged.rerouted} re-routed)."
            )

            records = desk.exceptions()
            say(f"\n6. The exception list: {len(records)} lead(s) nobody could take, e.g.:")
            for record in records[:3]:
                say(
                    f"   {record.prospect_name:<20} {record.state or '--'}  {record.failure_reason}"
                )
            if records:
                desk.assign_exception(records[0].lead_id, officer)
                say(
                    f"   {records[0].prospect_name} is assigned to Maria from the list"
                    " (batch work: no user id needed, it runs as the system actor)."
                )

            report = desk.activity_report("weekly", date(2026, 3, 9))
            report_path = work / "out" / "week.csv"
            with report_path.open("w", newline="", encoding="utf-8") as out:
                write_report_rows(out, report.rows)
            with (work / "out" / "week-summary.csv").open("w", newline="", encoding="utf-8") as out:
                write_report_summary(
                    out, report.per_assignee, report.organization, desk.directory.users
                )
            total = report.organization
            say(
                f"\n7. The weekly Lead Management Activity Report ({report.period.label}):"
                f" {len(report.rows)} rows, 29 columns."
            )
            for flag in ("new_lead", "contact_attempted", "contacted", "application_submitted"):
                say(f"   {flag:<22} {total.units[flag]:>4} leads  ${total.volume[flag]:>14,.2f}")
        finally:
            desk.store.close()
        say(
            "\nDone. Try it on your own data: `leadflow template > leads.csv`, then"
            " `leadflow init --config org.toml` and `leadflow route leads.csv --source KEY`."
        )
