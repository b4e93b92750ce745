"""Scores the PyPI package vietnamadminunits (the parser's peer) on vmap's parser corpus.

Not part of the test suite: run by hand in a throwaway venv, as the README says:

    python3 -m venv /tmp/vau && /tmp/vau/bin/pip install vietnamadminunits==1.0.4
    VMAP_CORPUS_CSV=/tmp/corpus.csv cargo test --release --test it -- --ignored export_corpus_csv
    /tmp/vau/bin/python tests/peer/vietnamadminunits_peer.py /tmp/corpus.csv

The peer is told which map each text is written in (mode LEGACY or FROM_2025), which vmap's
parser must find out for itself; it has no way to say "ambiguous", so on a case the corpus
labels ambiguous any ward it names other than the expected one counts as wrong.
"""

import csv
import sys
import time
from collections import defaultdict

from vietnamadminunits import parse_address


def main(path: str) -> None:
    rows = defaultdict(lambda: {"unamb": 0, "exact": 0, "amb": 0, "wrong": 0, "none": 0, "errors": 0})
    started = time.perf_counter()
    n = 0
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            n += 1
            stats = rows[row["style"]]
            legacy = row["map"] == "legacy"
            try:
                parsed = parse_address(row["text"], mode="LEGACY" if legacy else "FROM_2025", level=3 if legacy else 2)
                ward = parsed.ward_code
            except Exception:  # the peer raises on some inputs; a raise is "no answer"
                stats["errors"] += 1
                ward = None
            ambiguous = row["ambiguous"] == "1"
            if ambiguous:
                stats["amb"] += 1
                if ward is not None and ward != row["expected_code"]:
                    stats["wrong"] += 1
            else:
                stats["unamb"] += 1
                if ward == row["expected_code"]:
                    stats["exact"] += 1
                elif ward is None:
                    stats["none"] += 1
    elapsed = time.perf_counter() - started
    print(f"{'style':<16}{'unamb':>8}{'exact %':>10}{'amb':>7}{'wrong!':>8}{'none':>7}{'raised':>8}")
    for style, stats in rows.items():
        share = 100.0 * stats["exact"] / max(stats["unamb"], 1)
        print(f"{style:<16}{stats['unamb']:>8}{share:>9.2f}%{stats['amb']:>7}{stats['wrong']:>8}{stats['none']:>7}{stats['errors']:>8}")
    print(f"{n} addresses in {elapsed:.1f} s: {n / elapsed:,.0f} addresses/s")


if __name__ == "__main__":
    main(sys.argv[1])
