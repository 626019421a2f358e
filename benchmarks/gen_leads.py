"""Seeded generator of realistic lead CSV files, for the routing benchmarks.

Usage: python benchmarks/gen_leads.py ROWS OUT.csv [--seed N]

Writes ROWS leads (plus a header) as a mortgage CRM export would: every lead
column of :data:`leadflow.validate.COLUMNS` but the stage and assignee
requests, under the header spellings people use (``Phone Cell``, ``Zip Code``,
``First Time Buyer?``), each checked against :func:`leadflow.validate.canonical_column`.
Values are realistic and in their accepted spellings: names (some accented),
emails, US phones in NANP shape and assorted formats with the state's area
codes, states weighted by population (codes, lower case, full names), the
state's 5-digit ZIPs (New England's lead with 0: ``02134``; some ZIP+4),
amounts as ``350000``, ``$350,000`` or ``350,000.00``, enum answers in their
labels and common aliases, and an ``External ID`` unique per row. Some cells
are blank as in real exports: 5% of rows have no email, 8% no phone (never
both), 1% no property state, ZIP or address (a short web form).

Special rows are placed at seeded positions in every block of 1,000 rows, so
each block has the same mix (a file of 2,000 rows has every kind twice):

* 10 bad rows (1%), one of each kind of :data:`BAD_KINDS`: a bad email, phone,
  state, loan amount, loan purpose or ZIP, no last name, a ragged row with a
  cell missing or with one too many (an unquoted comma), and a row whose text
  is latin-1 bytes (``Jos\\xe9``) instead of UTF-8;
* 20 repeat contacts (2%): the names, email and phone of an earlier row, with
  a new external id and new lead details;
* 1 name that is a spreadsheet formula (``=HYPERLINK(...)``), a valid value
  that every CSV written from it must neutralise.

Rows stream out in blocks of 1,000: memory stays flat (30 MB) and 1,000,000
rows (183 MB) take about 20 seconds. Importable: :func:`generate`.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from leadflow.validate import COLUMNS, canonical_column, map_columns

__all__ = [
    "BAD_KINDS",
    "BLOCK",
    "FIELDS",
    "HEADER",
    "SOURCE",
    "UNFILLED",
    "generate",
]

#: The lead source every row belongs to (the benchmark org's purchased leads).
SOURCE = "purchased_leads"
#: Columns left out: requests for a stage or an assignee are not lead attributes.
NOT_GENERATED = frozenset({"lead_stage", "assignee_id"})
#: The header a CRM export would use, per column; others get their title-cased name.
HEADER_SPELLINGS = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
    "cell_phone": "Phone Cell",
    "lead_source": "Lead Source",
    "referred_by": "Referred By",
    "loan_purpose": "Loan Purpose",
    "loan_amount": "Loan Amount",
    "property_type": "Property Type",
    "occupancy": "Occupancy",
    "credit_rating": "Credit Rating (Self-Reported)",
    "estimated_purchase_price": "Estimated Purchase Price",
    "down_payment": "Down Payment",
    "desired_timeframe": "Desired Timeframe",
    "already_found_home": "Already Found Home?",
    "first_time_buyer": "First Time Buyer?",
    "veteran": "Veteran?",
    "property_address": "Property Address",
    "property_state": "Property State",
    "property_zip": "Zip Code",
    "external_id": "External ID",
}
#: The generated columns, in the validator's template order.
FIELDS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in NOT_GENERATED)
HEADER: tuple[str, ...] = tuple(
    HEADER_SPELLINGS.get(c, c.replace("_", " ").title()) for c in FIELDS
)
for _column, _header in zip(FIELDS, HEADER, strict=True):
    if canonical_column(_header) != _column:
        raise RuntimeError(f"header {_header!r} does not mean {_column!r} to leadflow.validate")
map_columns(HEADER)  # no unknown or doubled column

#: Rows per block; every block has the same mix of special rows.
BLOCK = 1000
#: The kinds of bad rows, one of each per block of 1,000 rows.
BAD_KINDS: tuple[str, ...] = (
    "bad_email",
    "bad_phone",
    "bad_state",
    "bad_amount",
    "bad_purpose",
    "bad_zip",
    "no_last_name",
    "ragged_short",
    "ragged_long",
    "not_utf8",
)
REPEATS_PER_BLOCK = 20
FORMULAS_PER_BLOCK = 1

# --------------------------------------------------------------------------- reference data

# state: (population weight, first and last 3-digit ZIP prefix, area codes)
STATES: dict[str, tuple[float, int, int, tuple[int, ...]]] = {
    "CA": (39.0, 900, 961, (213, 310, 415, 510, 619, 714, 818, 916)),
    "TX": (30.0, 750, 799, (210, 214, 281, 512, 713, 817, 972)),
    "FL": (22.2, 320, 349, (305, 407, 561, 813, 904, 954)),
    "NY": (19.6, 100, 149, (212, 516, 585, 718, 914, 917)),
    "PA": (13.0, 150, 196, (215, 412, 610, 717)),
    "IL": (12.5, 600, 629, (312, 630, 773, 847)),
    "OH": (11.8, 430, 458, (216, 513, 614, 937)),
    "GA": (11.0, 300, 319, (404, 678, 770, 912)),
    "NC": (10.8, 270, 289, (336, 704, 919)),
    "MI": (10.0, 480, 499, (248, 313, 616, 734)),
    "NJ": (9.3, 70, 89, (201, 609, 732, 973)),
    "VA": (8.7, 220, 246, (703, 757, 804)),
    "WA": (7.8, 980, 994, (206, 253, 425, 509)),
    "AZ": (7.4, 850, 865, (480, 520, 602)),
    "TN": (7.1, 370, 385, (615, 865, 901)),
    "MA": (7.0, 10, 27, (508, 617, 781, 978)),
    "IN": (6.8, 460, 479, (219, 317, 812)),
    "MO": (6.2, 630, 658, (314, 417, 816)),
    "MD": (6.2, 206, 219, (301, 410, 443)),
    "WI": (5.9, 530, 549, (414, 608, 920)),
    "CO": (5.8, 800, 816, (303, 719, 970)),
    "MN": (5.7, 550, 567, (612, 651, 952)),
    "SC": (5.3, 290, 299, (803, 843, 864)),
    "AL": (5.1, 350, 369, (205, 251, 334)),
    "LA": (4.6, 700, 714, (225, 318, 504)),
    "KY": (4.5, 400, 427, (502, 859)),
    "OR": (4.2, 970, 979, (503, 541)),
    "OK": (4.0, 730, 749, (405, 918)),
    "CT": (3.6, 60, 69, (203, 860)),
    "UT": (3.4, 840, 847, (435, 801)),
    "IA": (3.2, 500, 528, (319, 515)),
    "NV": (3.2, 889, 898, (702, 775)),
    "AR": (3.0, 716, 729, (479, 501)),
    "MS": (2.9, 386, 397, (228, 601)),
    "KS": (2.9, 660, 679, (316, 913)),
    "NM": (2.1, 870, 884, (505, 575)),
    "NE": (2.0, 680, 693, (308, 402)),
    "ID": (1.9, 832, 838, (208,)),
    "WV": (1.8, 247, 268, (304,)),
    "HI": (1.4, 967, 968, (808,)),
    "NH": (1.4, 30, 38, (603,)),
    "ME": (1.4, 39, 49, (207,)),
    "MT": (1.1, 590, 599, (406,)),
    "RI": (1.1, 28, 29, (401,)),
    "DE": (1.0, 197, 199, (302,)),
    "SD": (0.9, 570, 577, (605,)),
    "ND": (0.8, 580, 588, (701,)),
    "AK": (0.7, 995, 999, (907,)),
    "DC": (0.7, 200, 205, (202,)),
    "VT": (0.6, 50, 59, (802,)),
    "WY": (0.6, 820, 831, (307,)),
    "PR": (0.4, 6, 9, (787, 939)),
    "GU": (0.02, 969, 969, (671,)),
    "VI": (0.02, 8, 8, (340,)),
}
STATE_NAMES = {
    "CA": "California", "TX": "Texas", "FL": "Florida", "NY": "New York", "PA": "Pennsylvania",
    "IL": "Illinois", "OH": "Ohio", "GA": "Georgia", "NC": "North Carolina", "MI": "Michigan",
    "NJ": "New Jersey", "VA": "Virginia", "WA": "Washington", "AZ": "Arizona",
    "MA": "Massachusetts", "CO": "Colorado", "PR": "Puerto Rico",
}  # fmt: skip
AREA_CODES = tuple(sorted({a for *_, codes in STATES.values() for a in codes}))

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Sharon",
    "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob", "Kathleen", "Gary", "Angela",
    "Nicholas", "Shirley", "Eric", "Brenda", "Jonathan", "Emma", "Stephen", "Anna", "Larry",
    "Pamela", "Justin", "Nicole", "Scott", "Samantha", "Brandon", "Katherine", "Benjamin",
    "Christine", "Samuel", "Helen", "Gregory", "Debra", "Alexander", "Rachel", "Patrick", "Carolyn",
    "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather", "Jerry", "Diane",
    "Tyler", "Julie", "Aaron", "Joyce", "Jose", "Victoria", "Adam", "Ruth", "Nathan", "Virginia",
    "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter", "Joan", "Kyle",
    "Evelyn", "Noah", "Judith", "Ethan", "Andrea", "Jeremy", "Hannah", "Walter", "Megan",
    "Christian", "Cheryl", "Keith", "Jacqueline", "Roger", "Martha", "Terry", "Madison", "Austin",
    "Teresa", "Sean", "Gloria", "Gerald", "Sara", "Carl", "Janice", "Harold", "Ann", "Dylan",
    "Kathryn", "Arthur", "Abigail", "Lawrence", "Sophia", "Jordan", "Frances", "Jesse", "Jean",
    "Bryan", "Alice", "Billy", "Judy", "Bruce", "Isabella", "Gabriel", "Julia", "Joe", "Grace",
    "Logan", "Amber", "Alan", "Denise", "Juan", "Danielle", "Wei", "Mei", "Hiroshi", "Yuki",
    "Priya", "Arjun", "Mohammed", "Fatima", "Olga", "Dmitri", "Siobhan", "Declan", "Aaliyah",
    "DeShawn", "Mary-Kate", "Jean-Luc", "José", "Sofía", "Zoë", "Chloé", "Renée", "André", "Björn",
    "Inés",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry",
    "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
    "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera",
    "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro",
    "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy",
    "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford",
    "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason",
    "Dixon", "Muñoz", "Hunt", "Hicks", "Holmes", "O'Brien", "O'Neil", "D'Angelo", "Smith-Jones",
    "García", "Peña", "Müller", "Nakamura", "Okafor", "Kowalski", "Ivanova", "Schröder", "Zhang",
    "Wang", "Liu", "Singh", "Kaur", "Cohen", "De La Cruz", "Van Der Berg", "St. John",
    "MacDonald Jr.",
)  # fmt: skip
#: Accented first names for the row written as latin-1 bytes.
LATIN1_FIRST_NAMES = ("José", "Renée", "Zoë", "Inés", "André", "Chloé", "François")
EMAIL_DOMAINS = (
    ("gmail.com", 44), ("yahoo.com", 12), ("hotmail.com", 8), ("outlook.com", 7),
    ("icloud.com", 6), ("aol.com", 3), ("comcast.net", 2), ("att.net", 2),
    ("msn.com", 1), ("live.com", 1), ("me.com", 1), ("verizon.net", 1),
    ("protonmail.com", 1), ("sbcglobal.net", 1),
)  # fmt: skip
STREETS = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
    "Ridge", "Meadow", "Forest", "Highland", "Church", "River", "Spring", "Willow", "Jefferson",
    "Lincoln", "Franklin", "Madison", "Cherry", "Walnut", "Chestnut", "Hickory", "Magnolia",
    "Dogwood", "Juniper", "Aspen", "Laurel", "Birch", "Sycamore", "Cypress", "Lakeview", "Country",
    "Club", "Mill", "Creek", "Old", "Mill", "Valley", "View", "Prairie",
)  # fmt: skip
STREET_TYPES = (("St", 30), ("Ave", 20), ("Rd", 15), ("Dr", 15), ("Ln", 8), ("Ct", 6),
                ("Blvd", 3), ("Way", 3), ("Pl", 2), ("Street", 3), ("Avenue", 2))  # fmt: skip
REFERRERS = (
    "Zillow",
    "Realtor.com",
    "Open house",
    "Facebook ad",
    "Jane Keller (Realtor)",
    "Tom Alvarez, Keller Williams",
    "Past client",
    "Credit Karma",
    "LendingTree",
    "Friend",
)

# (spelling, weight): labels and the common aliases leadflow.validate accepts
LOAN_PURPOSES = (
    ("Purchase", 36), ("purchase", 3), ("Home Purchase", 2), ("PURCHASE", 1),
    ("Refinance - No Cash Out", 12), ("Rate/Term", 2), ("Rate and Term Refinance", 1),
    ("No Cash Out Refi", 1), ("Refinance - Cash Out", 14), ("Cash-Out Refi", 2),
    ("Cash Out Refinance", 2), ("HELOC", 6), ("Home Equity Line of Credit", 1),
    ("Home Equity Loan", 4), ("Home Equity", 1), ("Reverse Mortgage", 2), ("HECM", 1),
    ("Second Mortgage", 1), ("2nd Mortgage", 1), ("Construction Loan", 1), ("Other", 1),
    ("TBD", 2), ("Not Sure", 1), ("", 3),
)  # fmt: skip
# the canonical purpose of each spelling, for amounts and prices
PURPOSE_KIND = {
    "purchase": "purchase", "homepurchase": "purchase",
    "heloc": "equity", "homeequitylineofcredit": "equity", "homeequityloan": "equity",
    "homeequity": "equity", "secondmortgage": "equity", "2ndmortgage": "equity",
}  # fmt: skip
_PURPOSE_KIND = {
    spelling: PURPOSE_KIND.get(spelling.lower().replace(" ", ""), "refinance")
    for spelling, _ in LOAN_PURPOSES
}
PROPERTY_TYPES = (
    ("Single-Family", 40), ("Single Family", 10), ("SFR", 3), ("Condo", 12),
    ("Condominium", 2), ("2-4 Unit", 4), ("2-4 Units", 1), ("Planned Unit Development (PUD)", 4),
    ("PUD", 3), ("Co-op", 1), ("Manufactured Housing", 2), ("Manufactured Home", 1),
    ("Other", 2), ("", 15),
)  # fmt: skip
OCCUPANCIES = (
    ("Primary Residence", 58), ("Primary", 8), ("Owner Occupied", 3), ("Second Home", 6),
    ("Vacation Home", 1), ("Investment", 8), ("Investment Property", 2), ("Other", 1), ("", 13),
)  # fmt: skip
CREDIT_RATINGS = (
    ("Excellent", 24), ("Good", 34), ("Fair", 14), ("Poor", 5), ("good", 3), ("EXCELLENT", 1),
    ("", 19),
)  # fmt: skip
TIMEFRAMES = (
    ("Next 30 days", 18), ("3 months", 20), ("6 months", 14), ("6+ months", 10),
    ("Within 30 days", 4), ("1-3 months", 4), ("Within 6 months", 2), ("Over 6 months", 1),
    ("", 27),
)  # fmt: skip
YES_NO = (
    ("Yes", 25), ("No", 30), ("Unknown", 4), ("Y", 4), ("N", 5), ("yes", 3), ("no", 3),
    ("Not Sure", 1), ("", 25),
)  # fmt: skip
BAD_EMAILS: tuple[Callable[[str, str], str], ...] = (
    lambda local, domain: f"{local}@{domain.rsplit('.', 1)[0]}",  # no top-level domain
    lambda local, domain: f"{local}@@{domain}",
    lambda local, domain: f"{local} @{domain}",
    lambda local, domain: f"{local}{domain}",  # the @ forgotten
    lambda local, domain: f"{local}@{domain.replace('.', '..')}",
    lambda local, domain: f"{local}@{domain},",
    lambda local, domain: "n/a",
)
BAD_PHONES = (
    "(123) 456-7890", "555-0143", "214-555-014", "214 555 0143 ext 12", "(214) 055-0143",
    "+1 (800) FLOWERS", "214-555-01433", "000-000-0000",
)  # fmt: skip
BAD_STATES = ("XX", "Tex", "ZZ", "N/A", "Calif", "T X", "Ontario", "USA")
BAD_AMOUNTS = ("-250000", "$-1,200", "250k", "TBD", "1,00,000", "350000.505", "(5,000)", "$")
BAD_PURPOSES = ("Purchse", "Refinance?", "Buy a house", "Cash Out", "Refi", "Investment")
FORMULAS = (
    '=HYPERLINK("http://leads.example.net/claim?id=1","Click here")',
    '=HYPERLINK("https://example.org/x","Win $500")',
    "=1+2",
    "@SUM(1+1)*cmd|' /C calc'!A0",
)


def _table(weighted: Sequence[tuple[Any, float]], resolution: int = 2000) -> list[Any]:
    """A list in which each value appears in proportion to its weight: pick by index."""
    total = sum(w for _, w in weighted)
    out: list[Any] = []
    for value, weight in weighted:
        out.extend([value] * max(1, round(weight / total * resolution)))
    return out


def _ascii(name: str) -> str:
    """A name as it would appear in an email address: ascii letters only, lower case."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalpha())


_FIRSTS = [(n, _ascii(n)) for n in FIRST_NAMES]
_LASTS = [(n, _ascii(n)) for n in LAST_NAMES]
_STATE_TABLE = _table([(code, w) for code, (w, *_) in STATES.items()], 10_000)
_DOMAINS = _table(EMAIL_DOMAINS)
_STREET_TYPES = _table(STREET_TYPES)
_PURPOSES = _table(LOAN_PURPOSES)
_PROPERTY_TYPES = _table(PROPERTY_TYPES)
_OCCUPANCIES = _table(OCCUPANCIES)
_CREDIT = _table(CREDIT_RATINGS)
_TIMEFRAMES = _table(TIMEFRAMES)
_YES_NO = _table(YES_NO)
#: Loan amounts of purchases and refinances: log-normal around $330,000, in steps of $500.
_AMOUNTS = [
    min(max(round(x / 500) * 500, 60_000), 3_000_000)
    for x in (random.Random(7).lognormvariate(12.7, 0.45) for _ in range(4096))
]

# --------------------------------------------------------------------------- one row


def _plain(amount: int) -> str:
    return str(amount)


def _dollars(amount: int) -> str:
    return f"${amount:,}"


def _thousands(amount: int) -> str:
    return f"{amount:,}.00"


def _cents(amount: int) -> str:
    return f"${amount}.00"


def _money(style: float) -> Callable[[int], str]:
    """How amounts are written in a row: ``350000``, ``$350,000``, ``350,000.00``..."""
    if style < 0.5:
        return _plain
    if style < 0.75:
        return _dollars
    if style < 0.9:
        return _thousands
    return _cents


class _Rows:
    """Makes the rows of one file; holds the random source and earlier contacts."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.random = self.rnd.random
        #: Contacts of earlier good rows, for repeats (a ring: memory stays flat).
        self.contacts: list[tuple[str, str, str, str]] = []
        self.ring = 0

    def pick(self, table: Sequence[Any]) -> Any:
        return table[int(self.random() * len(table))]

    def column(self, table: Sequence[Any], size: int, blank: float = 0.0) -> list[Any]:
        """``size`` values drawn from ``table``; a ``blank`` share of them empty."""
        r, n = self.random, len(table)
        if blank:
            return ["" if r() < blank else table[int(r() * n)] for _ in range(size)]
        return [table[int(r() * n)] for _ in range(size)]

    def block(self, start: int, size: int) -> list[list[str]]:
        """Good rows ``start + 1`` to ``start + size``, columns in :data:`FIELDS` order."""
        r, column = self.random, self.column
        states = column(_STATE_TABLE, size)
        purposes = column(_PURPOSES, size)
        cols: dict[str, list[str]] = {
            "property_type": column(_PROPERTY_TYPES, size),
            "occupancy": column(_OCCUPANCIES, size),
            "credit_rating": column(_CREDIT, size),
            "desired_timeframe": column(_TIMEFRAMES, size),
            "first_time_buyer": column(_YES_NO, size),
            "veteran": column(_YES_NO, size),
            "lead_source": column((SOURCE, SOURCE, SOURCE, SOURCE, SOURCE, SOURCE, ""), size),
            "referred_by": column(REFERRERS, size, blank=0.92),
            "loan_purpose": purposes,
            "external_id": [f"PL-{n:08d}" for n in range(start + 1, start + size + 1)],
        }
        firsts, lasts, emails, phones = [], [], [], []
        amounts, prices, downs, found = [], [], [], []
        shown_states, zips, addresses = [], [], []
        n_domains, n_streets, n_types = len(_DOMAINS), len(STREETS), len(_STREET_TYPES)
        n_area, n_amounts = len(AREA_CODES), len(_AMOUNTS)
        for number, (first, first_ascii), (last, last_ascii), state, purpose in zip(
            range(start + 1, start + size + 1),
            column(_FIRSTS, size),
            column(_LASTS, size),
            states,
            purposes,
            strict=True,
        ):
            firsts.append(first)
            lasts.append(last)
            _, zip_lo, zip_hi, area_codes = STATES[state]

            # contact: an email built from the name, a phone with the state's area code
            contact = r()
            if contact < 0.05:
                emails.append("")  # phone only
            else:
                domain = _DOMAINS[int(r() * n_domains)]
                style = r()
                if style < 0.35:
                    local = f"{first_ascii}.{last_ascii}{number}"
                elif style < 0.6:
                    local = f"{first_ascii[:1]}{last_ascii}{number}"
                elif style < 0.75:
                    local = f"{first_ascii}{last_ascii}{number}"
                elif style < 0.9:
                    local = f"{first_ascii}_{number}"
                else:
                    local = f"{last_ascii}.{first_ascii}+leads{number}"
                email = f"{local}@{domain}"
                emails.append(email.title() if style * 10 % 1 < 0.1 else email)  # mixed case
            if 0.05 <= contact < 0.13:
                phones.append("")  # email only
            else:
                area = (
                    area_codes[int(r() * len(area_codes))]
                    if r() < 0.8
                    else AREA_CODES[int(r() * n_area)]
                )
                exchange = 200 + int(r() * 800)
                line = int(r() * 10_000)
                style = r()
                if style < 0.35:
                    phones.append(f"({area}) {exchange}-{line:04d}")
                elif style < 0.6:
                    phones.append(f"{area}-{exchange}-{line:04d}")
                elif style < 0.75:
                    phones.append(f"{area}{exchange}{line:04d}")
                elif style < 0.85:
                    phones.append(f"{area}.{exchange}.{line:04d}")
                elif style < 0.95:
                    phones.append(f"+1 {area} {exchange} {line:04d}")
                else:
                    phones.append(f"1-{area}-{exchange}-{line:04d}")

            # the loan: an amount that fits the purpose, a price and down payment to buy
            kind = _PURPOSE_KIND[purpose]
            if kind == "equity":
                amount = int(r() * 230 + 20) * 1000
            else:
                amount = _AMOUNTS[int(r() * n_amounts)]
            style = r()
            money = _money(style)
            amounts.append("" if style * 100 % 1 < 0.08 else money(amount))
            if kind == "purchase" and style * 10 % 1 < 0.7:
                value = round(amount / (0.8 + r() * 0.17) / 1000) * 1000
                prices.append(money(value))
                downs.append(money(max(value - amount, 0)))
            else:
                prices.append("")
                downs.append("")
            found.append(_YES_NO[int(r() * len(_YES_NO))] if kind == "purchase" else "")

            # the property: the state as code, lower case or name; its ZIPs; an address
            place = r()
            if place < 0.01:  # a partial web form: no property details
                shown_states.append("")
                zips.append("")
                addresses.append("")
                continue
            if place < 0.07:
                shown_states.append(state.lower())
            elif place < 0.11:
                shown_states.append(STATE_NAMES.get(state, state))
            else:
                shown_states.append(state)
            zip_code = f"{int(zip_lo + r() * (zip_hi - zip_lo + 1)):03d}{int(r() * 100):02d}"
            if place > 0.95:
                zip_code += f"-{int(r() * 10_000):04d}"
            zips.append(zip_code)
            street = f"{int(r() * 9900) + 100} {STREETS[int(r() * n_streets)]}"
            street_type = _STREET_TYPES[int(r() * n_types)]
            if place * 10 % 1 < 0.1:
                addresses.append(f"{street} {street_type}, Apt {int(r() * 400) + 1}")
            else:
                addresses.append(f"{street} {street_type}")
        cols.update(
            first_name=firsts,
            last_name=lasts,
            email=emails,
            cell_phone=phones,
            loan_amount=amounts,
            estimated_purchase_price=prices,
            down_payment=downs,
            already_found_home=found,
            property_state=shown_states,
            property_zip=zips,
            property_address=addresses,
        )
        blank = [""] * size
        return [list(row) for row in zip(*(cols.get(f, blank) for f in FIELDS), strict=True)]

    def remember(self, cells: list[str]) -> None:
        contact = (cells[_FIRST], cells[_LAST], cells[_EMAIL], cells[_PHONE])
        if len(self.contacts) < 20_000:
            self.contacts.append(contact)
        else:
            self.contacts[self.ring] = contact
            self.ring = (self.ring + 1) % len(self.contacts)

    def repeat(self, cells: list[str]) -> bool:
        """Give ``cells`` the contact of an earlier row; False if there is none yet."""
        if not self.contacts:
            return False
        (cells[_FIRST], cells[_LAST], cells[_EMAIL], cells[_PHONE]) = self.pick(self.contacts)
        return True

    def spoil(self, cells: list[str], kind: str) -> list[str]:
        """Make a good row bad in the way ``kind`` says (one field, or the row's shape)."""
        pick = self.pick
        if kind == "bad_email":
            local, _, domain = (cells[_EMAIL] or "someone@gmail.com").partition("@")
            cells[_EMAIL] = pick(BAD_EMAILS)(local, domain)
        elif kind == "bad_phone":
            cells[_PHONE] = pick(BAD_PHONES)
        elif kind == "bad_state":
            cells[_STATE] = pick(BAD_STATES)
        elif kind == "bad_amount":
            cells[_AMOUNT] = pick(BAD_AMOUNTS)
        elif kind == "bad_purpose":
            cells[_PURPOSE] = pick(BAD_PURPOSES)
        elif kind == "bad_zip":
            zip_code = cells[_ZIP][:5] or "75201"
            # a spreadsheet dropped the leading zero, or someone typed a letter O
            if zip_code.startswith("0"):
                cells[_ZIP] = zip_code.lstrip("0")
            else:
                cells[_ZIP] = zip_code[:2] + "O" + zip_code[3:]
        elif kind == "no_last_name":
            cells[_LAST] = ""
        elif kind == "ragged_short":
            del cells[1 + int(self.random() * (len(cells) - 2))]
        elif kind == "ragged_long":
            # an address with a comma, written without quotes: one cell too many
            street, city = (cells[_ADDRESS] or "12 Oak St"), pick(("Apt 4", "Unit B", "Ste 200"))
            cells[_ADDRESS : _ADDRESS + 1] = [street, city]
        elif kind == "not_utf8":
            cells[_FIRST] = pick(LATIN1_FIRST_NAMES)
        else:  # pragma: no cover - a kind without a recipe
            raise ValueError(kind)
        return cells


_FIRST, _LAST = FIELDS.index("first_name"), FIELDS.index("last_name")
_EMAIL, _PHONE = FIELDS.index("email"), FIELDS.index("cell_phone")
_STATE, _ZIP = FIELDS.index("property_state"), FIELDS.index("property_zip")
_AMOUNT, _PURPOSE = FIELDS.index("loan_amount"), FIELDS.index("loan_purpose")
_ADDRESS = FIELDS.index("property_address")
#: Columns of :data:`leadflow.validate.COLUMNS` this generator has no values for (left blank).
#: The columns :meth:`_Rows.block` fills.
GENERATED = frozenset({
    "first_name", "last_name", "email", "cell_phone", "lead_source", "referred_by",
    "loan_purpose", "loan_amount", "property_type", "occupancy", "credit_rating",
    "estimated_purchase_price", "down_payment", "desired_timeframe", "already_found_home",
    "first_time_buyer", "veteran", "property_address", "property_state", "property_zip",
    "external_id",
})  # fmt: skip
#: Columns of :data:`leadflow.validate.COLUMNS` this generator has no values for (left blank).
UNFILLED: tuple[str, ...] = tuple(f for f in FIELDS if f not in GENERATED)

# --------------------------------------------------------------------------- the file


def _block_plan(rnd: random.Random, size: int) -> dict[int, str]:
    """Special rows of a block of ``size`` rows: {offset: kind}, a partial block in proportion."""
    share = size / BLOCK
    bad = list(BAD_KINDS)
    rnd.shuffle(bad)
    kinds = bad[: round(len(bad) * share)]
    kinds += ["repeat"] * round(REPEATS_PER_BLOCK * share)
    kinds += ["formula"] * round(FORMULAS_PER_BLOCK * share)
    return dict(zip(rnd.sample(range(size), len(kinds)), kinds, strict=True))


def generate(
    rows: int,
    stream: IO[bytes],
    seed: int = 0,
    labels: list[tuple[int, str]] | None = None,
) -> Counter[str]:
    """Write a header and ``rows`` lead rows as CSV bytes to ``stream``.

    Rows are UTF-8 but for the ``not_utf8`` ones (latin-1 bytes); lines end
    with CRLF. The same ``rows`` and ``seed`` give the same bytes. Returns the
    count of special rows per kind (``repeat``, ``formula`` and
    :data:`BAD_KINDS`); ``labels``, when given, receives ``(row_number, kind)``
    for each of them (data rows are numbered from 1).
    """
    make = _Rows(seed)
    plan_rnd = random.Random(f"{seed}-plan")
    counts: Counter[str] = Counter()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    for start in range(0, rows, BLOCK):
        size = min(BLOCK, rows - start)
        plan = _block_plan(plan_rnd, size)
        block = make.block(start, size)
        latin1: list[int] = []
        for offset, cells in enumerate(block):
            kind = plan.get(offset)
            if kind is None:
                make.remember(cells)
                continue
            if kind == "repeat":
                if not make.repeat(cells):
                    continue
            elif kind == "formula":
                cells[_FIRST if make.random() < 0.7 else _LAST] = make.pick(FORMULAS)
            else:
                block[offset] = make.spoil(cells, kind)
                if kind == "not_utf8":
                    latin1.append(offset)
            counts[kind] += 1
            if labels is not None:
                labels.append((start + offset + 1, kind))
        done = 0
        for offset in latin1:  # flush the UTF-8 rows before, then the row as latin-1
            writer.writerows(block[done:offset])
            stream.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
            writer.writerow(block[offset])
            stream.write(text.getvalue().encode("latin-1", "replace"))
            text.seek(0)
            text.truncate()
            done = offset + 1
        writer.writerows(block[done:])
        stream.write(text.getvalue().encode())
        text.seek(0)
        text.truncate()
    stream.write(text.getvalue().encode())  # a file of no rows: the header
    return counts


def _count(text: str) -> int:
    return int(float(text.replace("_", "").replace(",", "")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=_count, help="data rows to write (1_000_000 or 1e6 work)")
    parser.add_argument("out", type=Path, help="the CSV file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with args.out.open("wb", buffering=1 << 20) as stream:
        counts = generate(args.rows, stream, args.seed)
    elapsed = time.perf_counter() - started
    size = args.out.stat().st_size
    special = ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items()))
    print(
        f"{args.out}: {args.rows:,} rows, {size / 1e6:,.1f} MB in {elapsed:.1f} s ({special})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
