"""Validate and route a lead CSV with pandas, as a capable pandas user would.

Usage: python benchmarks/pandas_route.py LEADS.csv OUTDIR
                 [--config benchmarks/org_bench.toml] [--source purchased_leads]

The baseline ``leadflow route`` is compared with (benchmarks/bench_route.py).
It does the same work without leadflow: pandas and numpy only, the config read
with tomllib.

1. Read every cell as text (``dtype=str``, no NA guessing: a person called
   ``Null`` or the state ``NA`` stays text); undecodable bytes become U+FFFD
   and the row is refused; a spare column catches rows with one cell too many
   (pandas pads a short row with blanks, so a short row is caught only by
   its shifted values).
2. Validate each field, one vectorised pass per rule, with leadflow's rules:
   first and last name required (at most 100 characters, no control
   characters); an email or a cell phone; emails well formed (lower-cased);
   phones with NANP digits (made E.164) or ``+CC`` with 8 to 15 digits;
   states as USPS codes or names; ZIPs of 5 digits (ZIP+4 cut); amounts of
   whole dollars or cents, ``$`` and thousands separators allowed, not
   negative; every enum column in its labels or common spellings, matched
   ignoring case and spaces; the lead source blank or the file's; external
   ids at most 200 characters and not repeated. Low-cardinality columns are
   mapped through a dict built over their unique values.
3. Route the valid rows round robin over the policy's candidates (the target
   teams' active users with ``receive_leads``, by id, at most
   ``routing_cap``), honouring each member's pause, state, ZIP, loan-purpose,
   credit-rating and license filters and volume caps. Eligibility is computed
   once per distinct (state, purpose, ...) profile as a bitmask; the rotation
   itself is a plain loop, since each pick depends on the previous one.
4. Write ``assigned.csv``, ``exceptions.csv`` (valid, but nobody could take
   them) and ``rejected.csv`` (with every field error of the row), with
   free-text cells that a spreadsheet would run as formulas neutralised.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).parent

# --------------------------------------------------------------------------- the rules

HEADER_ALIASES = {
    "first": "first_name", "firstname": "first_name", "last": "last_name",
    "lastname": "last_name", "email_address": "email", "e_mail": "email",
    "phone_cell": "cell_phone", "cell": "cell_phone", "mobile": "cell_phone",
    "phone": "cell_phone", "source": "lead_source", "purpose": "loan_purpose",
    "credit_rating_self_reported": "credit_rating", "purchase_price": "estimated_purchase_price",
    "timeframe": "desired_timeframe", "found_home": "already_found_home",
    "address": "property_address", "state": "property_state", "zip": "property_zip",
    "zip_code": "property_zip", "zipcode": "property_zip",
}  # fmt: skip
COLUMNS = (
    "first_name", "last_name", "email", "cell_phone", "lead_source", "referred_by",
    "loan_purpose", "loan_amount", "property_type", "occupancy", "credit_rating",
    "estimated_purchase_price", "down_payment", "desired_timeframe", "already_found_home",
    "first_time_buyer", "veteran", "property_address", "property_state", "property_zip",
    "external_id",
)  # fmt: skip
MONEY_COLUMNS = ("loan_amount", "estimated_purchase_price", "down_payment")
#: label: other spellings (matched ignoring case and whitespace, like the labels).
CHOICES: dict[str, dict[str, list[str]]] = {
    "loan_purpose": {
        "Purchase": ["home purchase", "purchase loan", "buy"],
        "Refinance - No Cash Out": [
            "Refi - No Cash Out", "No Cash Out Refinance", "No-Cash-Out Refinance",
            "No Cash Out Refi", "Rate and Term Refinance", "Rate/Term Refinance",
            "Rate-Term Refinance", "Rate and Term", "Rate/Term", "refinance_no_cash_out",
        ],
        "Refinance - Cash Out": [
            "Refi - Cash Out", "Cash Out Refinance", "Cash-Out Refinance", "Cash Out Refi",
            "Cash-Out Refi", "refinance_cash_out",
        ],
        "HELOC": ["Home Equity Line of Credit", "Home Equity Line"],
        "Home Equity Loan": ["Home Equity", "HEL", "home_equity_loan"],
        "Reverse Mortgage": ["Reverse", "HECM", "reverse_mortgage"],
        "Second Mortgage": ["2nd Mortgage", "Second Lien", "2nd Lien", "second_mortgage"],
        "Construction Loan": ["Construction", "Construction-to-Permanent", "construction_loan"],
        "Other": [],
        "TBD": ["To Be Determined", "Unknown", "Not Sure"],
    },
    "property_type": {
        "Single-Family": [
            "Single Family", "Single Family Residence", "Single-Family Residence", "SFR", "SFH",
            "single_family",
        ],
        "2-4 Unit": ["2-4 Units", "2 to 4 Units", "2 to 4 Unit", "2-4", "two_to_four_unit"],
        "Condo": ["Condominium"],
        "Co-op": ["Coop", "Cooperative", "co_op"],
        "Manufactured Housing": ["Manufactured", "Manufactured Home", "manufactured_housing"],
        "Planned Unit Development (PUD)": ["PUD", "Planned Unit Development"],
        "Other": [],
    },
    "occupancy": {
        "Primary Residence": ["Primary", "Primary Home", "Owner Occupied", "primary_residence"],
        "Second Home": ["Second", "2nd Home", "Vacation Home", "second_home"],
        "Investment": ["Investment Property", "Investor", "Non-Owner Occupied"],
        "Other": [],
    },
    "credit_rating": {"Excellent": [], "Good": [], "Fair": [], "Poor": []},
    "desired_timeframe": {
        "Next 30 days": ["30 days", "Within 30 days", "0-30 days", "next_30_days"],
        "3 months": ["Within 3 months", "Next 3 months", "1-3 months", "three_months"],
        "6 months": ["Within 6 months", "Next 6 months", "3-6 months", "six_months"],
        "6+ months": [
            "More than 6 months", "Over 6 months", "6 months+", "6+", "more_than_six_months",
        ],
    },
}  # fmt: skip
YES_NO = {
    "Yes": ["Y", "True"],
    "No": ["N", "False"],
    "Unknown": ["Unsure", "Not Sure", "Don't Know"],
}
for _column in ("already_found_home", "first_time_buyer", "veteran"):
    CHOICES[_column] = YES_NO
USPS = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "AA", "AE", "AP",
)  # fmt: skip
_NAMES = (
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
    "district of columbia", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
    "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan",
    "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada", "new hampshire",
    "new jersey", "new mexico", "new york", "north carolina", "north dakota", "ohio", "oklahoma",
    "oregon", "pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee",
    "texas", "utah", "vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming",
    "american samoa", "guam", "northern mariana islands", "puerto rico", "u.s. virgin islands",
    "armed forces americas", "armed forces europe", "armed forces pacific",
)  # fmt: skip
STATE_NAMES = dict(zip(_NAMES, USPS, strict=True))
STATE_NAMES["virgin islands"] = "VI"

_WORD = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL = re.compile(
    rf"(?=[^@]{{1,64}}@){_WORD}(?:\.{_WORD})*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
NANP = r"[2-9][0-9]{2}[2-9][0-9]{6}"
MONEY = r"\$?\s*(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{0,2})?"
CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"  # line breaks included: a one-line field has none
MAX_MONEY = 999_999_999_999.99
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
FREE_TEXT = ("first_name", "last_name", "email", "referred_by", "property_address", "external_id")


def fold(text: str) -> str:
    return "".join(text.lower().split())


def column_name(header: str) -> str:
    folded = re.sub(r"[^0-9a-z]+", "_", header.lower()).strip("_")
    return HEADER_ALIASES.get(folded, folded)


# --------------------------------------------------------------------------- validation


def lookup(values: pd.Series, table: Mapping[str, str]) -> pd.Series:
    """Map each value through ``table`` by its folded form; NaN where it has no entry."""
    return values.map({u: table.get(fold(u)) for u in values.unique()})


def state_code(text: str) -> str | None:
    code = text.upper()
    return code if code in USPS else STATE_NAMES.get(" ".join(text.lower().split()))


def choice_table(labels: Mapping[str, Iterable[str]]) -> dict[str, str]:
    table = {fold(label): label for label in labels}
    for label, spellings in labels.items():
        table.update((fold(s), label) for s in spellings)
    return table


def validate(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.Series]:
    """The normalised columns of ``df``, and each row's errors ("" for a valid row).

    ``df``'s cells are stripped in place.
    """
    out = pd.DataFrame(index=df.index)
    problems: list[tuple[str, pd.Series]] = []  # (message, rows where it applies)

    def check(message: str, mask: pd.Series) -> None:
        if mask.any():
            problems.append((message, mask))

    for name in COLUMNS:  # in place: no second copy of the file's text
        df[name] = df[name].str.strip()
    cells = df
    blank = {c: cells[c].eq("") for c in COLUMNS}

    for name in ("first_name", "last_name"):
        check(f"{name}: is required", blank[name])
        check(f"{name}: too long", cells[name].str.len() > 100)
    for name, limit in (("referred_by", 200), ("property_address", 500), ("external_id", 200)):
        check(f"{name}: too long", cells[name].str.len() > limit)
    for name in ("first_name", "last_name", "referred_by", "property_address", "external_id"):
        check(f"{name}: contains control characters", cells[name].str.contains(CONTROL))
        out[name] = cells[name]
    check(
        "external_id: repeats an earlier row's",
        ~blank["external_id"] & df.duplicated("external_id"),
    )

    email = cells["email"].str.lower()
    check(
        "email: is not a well-formed email address",
        ~blank["email"] & ~(email.str.fullmatch(EMAIL) & (email.str.len() <= 254)),
    )
    out["email"] = email

    raw_phone = cells["cell_phone"]
    plus = raw_phone.str.startswith("+")
    digits = raw_phone.str.lstrip("+").str.replace(r"[ .\-()/\t\u00a0]", "", regex=True)
    us = digits.str.fullmatch(f"1{NANP}") | (~plus & digits.str.fullmatch(NANP))
    world = plus & digits.str.fullmatch(r"[2-9][0-9]{7,14}")
    check("cell_phone: is not a phone number", ~blank["cell_phone"] & ~(us | world))
    out["cell_phone"] = np.where(us, "+1" + digits.str[-10:], np.where(world, "+" + digits, ""))
    check(
        "email: is required when there is no cell_phone",
        blank["email"] & blank["cell_phone"],
    )

    check(
        f"lead_source: is not this file's source {source!r}",
        ~blank["lead_source"] & cells["lead_source"].ne(source),
    )
    out["lead_source"] = source

    for name, labels in CHOICES.items():
        mapped = lookup(cells[name], choice_table(labels))
        check(f"{name}: is not one of {', '.join(labels)}", ~blank[name] & mapped.isna())
        out[name] = mapped.fillna("")
    out.loc[blank["loan_purpose"], "loan_purpose"] = "TBD"

    for name in MONEY_COLUMNS:
        text = cells[name]
        shaped = text.str.fullmatch(MONEY)
        amount = pd.to_numeric(
            text.where(shaped).str.replace(r"[$,\s]", "", regex=True), errors="coerce"
        )
        check(f"{name}: is not an amount", ~blank[name] & (~shaped | (amount > MAX_MONEY)))
        out[name] = amount

    state = cells["property_state"].map(
        {u: state_code(u) for u in cells["property_state"].unique()}
    )
    check("property_state: is not a US state", ~blank["property_state"] & state.isna())
    out["property_state"] = state.fillna("")

    zip_code = cells["property_zip"]
    check(
        "property_zip: is not a ZIP code",
        ~blank["property_zip"] & ~zip_code.str.fullmatch(r"[0-9]{5}(?:-?[0-9]{4})?"),
    )
    out["property_zip"] = zip_code.str[:5]

    bad_bytes = np.zeros(len(df), dtype=bool)
    for name in df.columns:
        bad_bytes |= df[name].str.contains("\ufffd", regex=False).to_numpy()
    check("row: is not UTF-8 text", pd.Series(bad_bytes, index=df.index))
    check("row: has more cells than the header", df["__extra__"].ne(""))

    flags = [(message, mask.to_numpy()) for message, mask in problems]
    failed = np.zeros(len(df), dtype=bool)
    for _, flagged in flags:
        failed |= flagged
    errors = np.full(len(df), "", dtype=object)
    for at in np.flatnonzero(failed):  # the few bad rows: every error of each
        errors[at] = "; ".join(message for message, flagged in flags if flagged[at])
    return out[list(COLUMNS)], pd.Series(errors, index=df.index)


# --------------------------------------------------------------------------- routing


class Policy:
    """A source's primary policy from the org TOML: its candidates and their filters."""

    def __init__(self, config: Mapping[str, Any], source: str, today: date) -> None:
        org = config.get("organization", {})
        sources = {s["key"]: s for s in config.get("sources", [])}
        policies = {p["key"]: p for p in config.get("policies", [])}
        policy = policies[sources[source]["primary_policy"]]
        if policy.get("distribution", "round_robin") != "round_robin":
            raise SystemExit(f"policy {policy['key']!r} is not round robin")
        teams = set(policy.get("teams", []))
        users = sorted(
            (
                u
                for u in config.get("users", [])
                if (teams & set(u.get("teams", [])) or u["id"] == policy.get("user"))
                and u.get("active", True)
                and "receive_leads" in u.get("permissions", [])
            ),
            key=lambda u: u["id"],
        )[: org.get("routing_cap", 50)]
        settings = {m["user"]: m for m in policy.get("members", [])}
        self.ids = [u["id"] for u in users]
        self.emails = [u.get("email", "") for u in users]
        self.members = [settings.get(uid, {}) for uid in self.ids]
        self.filters = [m.get("filters", {}) for m in self.members]
        self.licenses: list[set[str]] = []
        for u in users:
            held = set()
            for lic in u.get("licenses", []):
                if isinstance(lic, str):
                    held.add(lic)
                elif lic.get("expires_on") is None or today <= lic["expires_on"]:
                    held.add(lic["state"])
            self.licenses.append(held)
        caps = []
        for f in self.filters:  # one run is one day: the smallest cap binds
            caps.append(min((c["count"] for c in _caps(f)), default=None))
        self.caps = caps
        self.uses_zip = any(f.get("zips") for f in self.filters)

    def masks(self, state: str, zip_code: str, purpose: str, credit: str) -> tuple[int, int]:
        """Members passing pause and filters, and those of them passing the license check."""
        filtered = licensed = 0
        for i, (member, f) in enumerate(zip(self.members, self.filters, strict=True)):
            if member.get("paused", False):
                continue
            if f.get("states") and state not in f["states"]:
                continue
            zips = f.get("zips")
            if zips and not (zip_code and (zip_code in zips or zip_code[:3] in zips)):
                continue
            if f.get("loan_purposes") and purpose not in f["loan_purposes"]:
                continue
            if f.get("credit_ratings") and credit not in f["credit_ratings"]:
                continue
            filtered |= 1 << i
            if not f.get("require_license") or state in self.licenses[i]:
                licensed |= 1 << i
        return filtered, licensed


def _caps(filters: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    caps = filters.get("max_leads", [])
    return [caps] if isinstance(caps, Mapping) else list(caps)


def route(leads: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, pd.Series]:
    """Each lead's member index (-1: nobody) and, for those, why nobody."""
    zips = leads["property_zip"] if policy.uses_zip else pd.Series("", index=leads.index)
    profile = pd.MultiIndex.from_arrays(
        [leads["property_state"], zips, leads["loan_purpose"], leads["credit_rating"]]
    )
    codes, profiles = pd.factorize(profile)
    masks = [policy.masks(*p) for p in profiles]
    eligible = [licensed for _, licensed in masks]
    size = len(policy.ids)
    left = [cap if cap is not None else -1 for cap in policy.caps]
    capped = any(cap >= 0 for cap in left)
    full = 0  # members at their volume cap
    start = 0
    chosen = np.full(len(leads), -1, dtype=np.int64)
    picks = chosen.tolist()
    for row, code in enumerate(codes.tolist()):
        mask = eligible[code] & ~full if capped else eligible[code]
        if not mask:
            continue
        above = mask >> start << start
        pick = ((above or mask) & -(above or mask)).bit_length() - 1
        picks[row] = pick
        start = pick + 1 if pick + 1 < size else 0
        if capped and left[pick] > 0:
            left[pick] -= 1
            if left[pick] == 0:
                full |= 1 << pick
    chosen = np.asarray(picks, dtype=np.int64)

    why = pd.Series("", index=leads.index)
    unrouted = chosen < 0
    if unrouted.any():
        reasons = []
        for filtered, licensed in masks:
            if size == 0:
                reasons.append("no_available_agents")
            elif licensed:
                reasons.append("volume_cap")
            elif filtered:
                reasons.append("no_state_license")
            elif all(m.get("paused", False) for m in policy.members):
                reasons.append("all_paused")
            else:
                reasons.append("no_available_agents")
        why[unrouted] = np.asarray(reasons, dtype=object)[codes[unrouted]]
    return chosen, why


# --------------------------------------------------------------------------- output


def neutralise(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Prefix cells a spreadsheet would run as a formula with an apostrophe (in place)."""
    for name in columns:
        text = frame[name]
        frame[name] = text.where(~text.str.startswith(DANGEROUS), "'" + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("leads", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", type=Path, default=HERE / "org_bench.toml")
    parser.add_argument("--source", default="purchased_leads")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    phases: list[str] = []

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases.append(f"{name} {now - clock:.1f} s")
        clock = now

    header = list(pd.read_csv(args.leads, nrows=0, encoding_errors="replace").columns)
    names = [column_name(h) for h in header]
    missing = sorted(set(COLUMNS) - set(names))
    if missing:
        raise SystemExit(f"{args.leads}: no column for {', '.join(missing)}")
    df = pd.read_csv(
        args.leads,
        dtype=str,
        keep_default_na=False,
        header=None,
        skiprows=1,
        names=[*names, "__extra__"],
        encoding="utf-8",
        encoding_errors="replace",
        on_bad_lines="warn",
    )
    df.index = df.index + 1  # data rows are numbered from 1
    phase("read")

    clean, errors = validate(df, args.source)
    valid = errors.eq("")
    rejected = (
        df[~valid].drop(columns="__extra__").rename(columns=dict(zip(names, header, strict=True)))
    )
    rejected.insert(0, "errors", errors[~valid])
    rejected.insert(0, "row", rejected.index)
    del df  # only the normalised columns from here on
    phase("validate")

    with args.config.open("rb") as handle:
        policy = Policy(tomllib.load(handle), args.source, date.today())
    leads = clean[valid]
    chosen, why = route(leads, policy)
    phase("route")

    routed = chosen >= 0
    assigned = leads[routed].copy()
    assigned.insert(0, "row", assigned.index)
    assigned["assignee_id"] = np.asarray(policy.ids)[chosen[routed]]
    assigned["assignee_email"] = np.asarray(policy.emails, dtype=object)[chosen[routed]]
    exceptions = leads[~routed].copy()
    exceptions.insert(0, "row", exceptions.index)
    exceptions["reason"] = why[~routed]
    for frame, columns in (
        (assigned, [*FREE_TEXT, "cell_phone"]),
        (exceptions, [*FREE_TEXT, "cell_phone"]),
        (rejected, header),
    ):
        neutralise(frame, columns)
    assigned.to_csv(args.out / "assigned.csv", index=False, float_format="%.2f")
    exceptions.to_csv(args.out / "exceptions.csv", index=False, float_format="%.2f")
    rejected.to_csv(args.out / "rejected.csv", index=False)
    phase("write")

    print(
        f"{len(valid):,} rows: {len(assigned):,} assigned, {len(exceptions):,} exceptions, "
        f"{len(rejected):,} rejected ({', '.join(phases)})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
