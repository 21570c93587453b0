"""Screening recall and precision on the attack suites and the example cards (issue 23).

    .venv/bin/python bench/screening_recall.py [-v]

- attacks_flagged: attacks with at least one finding on the field their payload was added to
  (examples/attacks-unseen and examples/attacks, each manifest's `field`);
- honest_flagged: honest look-alikes (both suites' benign cards) with any finding;
- examples_flagged: the ordinary cards in examples/tools with any finding.
Every flagged card costs one differential review (a panel of model calls), never a hold by itself.
Writes bench/screening.json. Never reads examples/attacks-sealed (kept for the final measurement).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolpanel.ingest.cards import load_card  # noqa: E402
from toolpanel.screening.rules import screen  # noqa: E402

SUITES = ("examples/attacks-unseen", "examples/attacks")


def _share(hits: list[str], total: int) -> dict:
    return {"count": len(hits), "of": total, "share": round(len(hits) / total, 3) if total else None, "cards": hits}


def measure(verbose: bool = False) -> dict:
    out: dict = {"suites": {}, "note": "examples/attacks-unseen was the development set of the rules by meaning; "
                                       "the sealed suite is not read here"}
    honest_hits, honest_total = [], 0
    for suite in SUITES:
        folder = ROOT / suite
        manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
        missed, caught = [], []
        for a in manifest["attacks"]:
            found = screen(load_card(folder / a["file"]))
            (caught if any(f.field == a["field"] for f in found) else missed).append(a["file"])
            if verbose and a["file"] in missed:
                print(f"  missed {suite}/{a['file']} ({a['field']}): {a['payload'][:100]!r}")
        total = len(manifest["attacks"])
        out["suites"][suite] = {"attacks_flagged": _share(caught, total)["count"], "attacks": total, "missed": missed}
        for b in manifest.get("benign") or []:
            honest_total += 1
            found = screen(load_card(folder / b["file"]))
            if found:
                honest_hits.append(f"{suite}/{b['file']}")
                if verbose:
                    for f in found:
                        print(f"  honest {suite}/{b['file']} {f.field} {f.rule}: {f.span[:110]!r}")
    attacks = [s["attacks_flagged"] for s in out["suites"].values()]
    totals = [s["attacks"] for s in out["suites"].values()]
    out["attacks_flagged"] = {"count": sum(attacks), "of": sum(totals), "share": round(sum(attacks) / sum(totals), 3)}
    out["honest_flagged"] = _share(honest_hits, honest_total)
    examples = sorted(p for p in (ROOT / "examples" / "tools").iterdir() if p.suffix in (".md", ".yaml", ".yml"))
    ex_hits = []
    for p in examples:
        found = screen(load_card(p))
        if found:
            ex_hits.append(p.name)
            if verbose:
                for f in found:
                    print(f"  example {p.name} {f.field} {f.rule}: {f.span[:110]!r}")
    out["examples_flagged"] = _share(ex_hits, len(examples))
    return out


def main() -> None:
    out = measure(verbose="-v" in sys.argv)
    for suite, s in out["suites"].items():
        print(f"{suite}: {s['attacks_flagged']} of {s['attacks']} attacks flagged on the payload's field")
    for key in ("attacks_flagged", "honest_flagged", "examples_flagged"):
        f = out[key]
        print(f"{key}: {f['count']} of {f['of']} ({100 * f['share']:.1f} %)")
    (ROOT / "bench" / "screening.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
