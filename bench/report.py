"""Generate docs/benchmarks.md from every bench/*.json (results, fuzz, redteam, eval, ...).

    python bench/report.py [--bench DIR] [--out FILE]

One section per JSON file: what it measures, the command that wrote it, a link to the raw file and a few
compact tables. Known files get tables chosen for them; any other shape gets a generic table per group
(nested dicts become tables, long lists are counted and cut). Rows are sorted by key (lists keep their order),
so the page is deterministic and regenerating it without new figures changes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tables import MAX_ROWS, cell, generic, human, kv_table, notes, records, table  # noqa: E402
DOC = ROOT / "docs" / "benchmarks.md"

TITLES = {
    "results.json": "Speed, size and memory of the pipeline",
    "fuzz.json": "Hostile inputs through the CLI",
    "redteam.json": "Prompt-injection attacks against the panel",
    "eval.json": "Agreement with editors' gold verdicts",
    "take_quality.json": "Quality of the panel's takes, run by run",
    "profile.json": "Where a batch's CPU time goes",
    "screening.json": "Screening recall and false flags",
    "model_screen.json": "Cost of the model screen per card",
    "deliberation.json": "A second round: herding, cost and latency (`toolpanel eval --configs`)",
    "suite.json": "`make test` before and after a change, back to back",
    "chair.json": "The chair's checks against dishonest panel summaries",
}
COMMANDS = {
    "results.json": "Written by `make bench` (`bench/run.py`), which also regenerates this page.",
    "fuzz.json": "Written by `make fuzz` (`bench/fuzz.py`; `FUZZ_SEED` and `FUZZ_CASES` set the run).",
    "redteam.json": "Written by `make redteam` (`toolpanel redteam --against ...`, see docs/security.md); "
                    "one entry per adversary model and attack suite.",
    "eval.json": "Written by `toolpanel eval eval/gold/... --json > bench/eval.json` (see docs/eval.md).",
    "take_quality.json": "Written by `python bench/take_quality.py WAREHOUSE.duckdb --label LABEL`, "
                         "one entry per labelled run.",
    "profile.json": "Written by `make profile` (`bench/profile_batch.py` under py-spy).",
    "screening.json": "Written by `python bench/screening_recall.py`.",
    "model_screen.json": "Written by `python bench/model_screen.py`.",
    "deliberation.json": "Written by `python bench/deliberation.py` (scripted reviewers) and `python bench/deliberation.py "
                         "--bundled GOLD...` (the bundled model; see docs/eval.md). Cost and latency are multipliers "
                         "of the one-round baseline measured in the same run.",
    "suite.json": "Written by `python bench/suite_timing.py BEFORE AFTER` (clones both commits, times `CI=true make "
                  "test` in each, one right after the other, nothing else running). The ratio after/before is the "
                  "figure; seconds are context.",
}


# ---------------------------------------------------------------- known files

RESULT_GROUPS = [("Reviews and batches", "1 2 3 4 9"), ("Warehouse and publishing", "5 6"),
                 ("Bundled model and prompt size", "7 8"), ("Memory (peak RSS)", "M")]


def results(rows: list[dict]) -> list[str]:
    out = []
    machine = [r for r in rows if str(r.get("fig", "")) == "0" or str(r["name"]).startswith("0.")]
    for r in machine:
        what = str(r["name"]).split(":", 1)[-1].strip()
        out += [f"Machine speed: a {cell(what)} took **{cell(r['value'])} {r.get('unit', '')}** "
                f"({cell(r.get('note'))}). Every figure below is a ratio against a baseline measured in the same run, "
                "so it compares across machines; absolute times are context only.", ""]
    groups: dict[str, list] = {}
    for r in rows:
        if r in machine:
            continue
        lead = str(r["name"]).split(".")[0].strip()  # "7a" is figure 7, "M3" is memory
        key = "M" if lead.startswith("M") else lead.rstrip("abcdefghij")
        name = next((g for g, figs in RESULT_GROUPS if key in figs.split()), "Other figures")
        groups.setdefault(name, []).append(r)
    met = {True: "met", False: "**missed**"}
    for name in [g for g, _ in RESULT_GROUPS] + ["Other figures"]:
        if name in groups:
            out += [f"### {name}", ""]
            out += table(["figure", "value", "unit", "goal", "met", "context"],
                         [[r["name"], r.get("value"), r.get("unit"), r.get("goal"), met.get(r.get("met"), "—"),
                           r.get("note")] for r in groups[name]]) + [""]
    return out[:-1] or ["*(no entries)*"]


def redteam(data: dict) -> list[str]:
    """One row per model and suite: what reaches readers, what stopped it, what it costs."""
    runs = [(k, r) for k, r in sorted(data.items()) if isinstance(r, dict) and "suite" in r]
    if not runs:
        return generic(data)
    main = []
    for key, r in runs:
        su, ge, be, ex = r["suite"], r.get("generated", {}), r.get("benign", {}), r.get("examples", {})
        sm, gm = su.get("summary") or {}, ge.get("summary") or {}
        main.append([key, su.get("attacks"), su.get("asr_pct"), su.get("effect_without_holds_pct"),
                     f"{cell(ge.get('attacks'))} (seed {cell(r.get('seed'))})", ge.get("asr_pct"),
                     f"{cell(sm.get('steered'))} of {cell(su.get('attacks'))} / {cell(gm.get('steered'))} of "
                     f"{cell(ge.get('attacks'))}" if sm else None,
                     f"{cell(be.get('false_holds_pct'))} % of {cell(be.get('cards'))}",
                     f"{cell(ex.get('flagged'))} of {cell(ex.get('cards'))}", ex.get("extra_calls_pct")])
    out = ["### What reaches readers (attack success rate, ASR, in % of attacks)", ""]
    out += table(["model · suite", "attacks", "ASR %", "ASR without holds %", "generated (seed)", "generated ASR %",
                  "summaries steered (suite / generated)", "benign false holds", "example cards double-checked",
                  "extra calls on them %"], main)
    how = []
    for key, r in runs:
        su, cost = r["suite"], r.get("cost", {})
        first, eff = su.get("caught_first_by_pct", {}), su.get("by_effect", {})
        how.append([key, first.get("screening"), first.get("differential"), first.get("take_checks"),
                    " / ".join(cell(eff.get(e, {}).get("asr_pct")) for e in ("boost", "sabotage", "abstain")),
                    su.get("succeeded", []) + r.get("generated", {}).get("succeeded", []),
                    f"{cell(cost.get('differential_calls'))} of {cell(cost.get('total_calls'))} "
                    f"(+{cell(cost.get('extra_calls_pct'))} %)"])
    out += ["", "### What stopped the suite's attacks (% caught first by each defence) and what it cost", ""]
    out += table(["model · suite", "screening", "differential", "take checks", "ASR % boost / sabotage / abstain",
                  "attacks that got through (suite + generated)", "differential calls of all"], how)
    return out


def take_quality(data: dict) -> list[str]:
    cols = [("takes", "takes"), ("ok", "ok"), ("failed", "failed"), ("abstained", "abstained"),
            ("invalid_output_rate_pct", "invalid output %"), ("contradiction_rate_pct", "contradictions %"),
            ("grounded_share_pct", "grounded %"), ("mean_score", "mean score"), ("score_stdev", "score SD"),
            ("distinct_scores", "distinct scores"), ("ship_takes", "ship takes"), ("skip_takes", "skip takes"),
            ("panel_verdicts", "panel verdicts")]
    runs = [(k, r) for k, r in sorted(data.items()) if isinstance(r, dict)]
    if not runs:
        raise ValueError("no runs")
    out = table(["run"] + [h for _, h in cols], [[k] + [r.get(c) for c, _ in cols] for k, r in runs])
    return out + [""] + notes([(k, r.get("note")) for k, r in runs[:MAX_ROWS]])


def fuzz(data: dict) -> list[str]:
    out = generic({k: v for k, v in data.items() if k != "per_class"}) + ["", "### Cases per input class", ""]
    return out + kv_table(sorted(data["per_class"].items()), "input class", "cases")


def profile(data: dict) -> list[str]:
    share = data.get("share_of_cpu_pct", {})
    rest = {k: v for k, v in data.items() if k != "share_of_cpu_pct"}
    out = generic(rest) + ["", "### Share of the sampled CPU time, by part of the program (largest first)", ""]
    ranked = [[k, v] for k, v in sorted(share.items(), key=lambda kv: (-kv[1], kv[0]))]
    half = math.ceil(len(ranked) / 2)
    rows = [ranked[i] + (ranked[i + half] if i + half < len(ranked) else ["", ""]) for i in range(half)]
    return out + table(["part", "CPU %"] * 2, rows, limit=half)


def screening(data: dict) -> list[str]:
    sets = [(k, data[k]) for k in ("attacks_flagged", "honest_flagged", "examples_flagged") if k in data]
    out = table(["cards", "flagged", "of", "share", "which"],
                [[human(k), v.get("count"), v.get("of"), v.get("share"), v.get("cards", "—")] for k, v in sets])
    out += ["", "### Per attack suite", ""] + records(sorted(data.get("suites", {}).items()), "suite")
    if data.get("note"):
        out += ["", f"Note: {cell(data['note'])}"]
    return out


def model_screen(data: dict) -> list[str]:
    out = [f"Tokens counted as {cell(data.get('counted_as'))}; the fake model answers `{cell(data.get('answer'))}`; "
           f"prices: {cell(data.get('price_per_million'))}.", ""]
    stats = [(k, v) for k, v in sorted(data.items()) if isinstance(v, dict) and {"min", "median", "max"} <= set(v)]
    out += table(["per card", "min", "median", "max"], [[human(k)] + [v[s] for s in ("min", "median", "max")]
                                                        for k, v in stats])
    cards = [(c.get("card"), {k: v for k, v in c.items() if k != "card"}) for c in data.get("cards", [])]
    return out + ["", "### Each example card", ""] + records(cards, "card")


def deliberation(data: dict) -> list[str]:
    """One row per source (scripted, bundled): the two-round configurations against their one-round baseline."""
    rows = []
    for source, d in sorted(data.items()):
        runs = d.get("reviewers") or {"": d.get("configs", [])}
        twos = [(who, r) for who, rs in runs.items() for r in rs if r.get("rounds") == 2]
        base = next(r for rs in runs.values() for r in rs if r.get("baseline"))
        first = twos[0][1]
        herd = " / ".join(f"{cell(r.get('herding'))} ({who or r['name']}, {r.get('herding_room')} with room)"
                          for who, r in twos)
        m = first["multipliers"]
        loop = d.get("machine", {})
        rows.append([source, d.get("items"), herd, f"{cell(base.get('accuracy'))} → {cell(first.get('accuracy'))}",
                     m.get("calls"), m.get("tokens"), m.get("latency"),
                     "; ".join([f"CPU loop {loop.get('cpu_loop_s_before')} s before, {loop.get('cpu_loop_s_after')} s after",
                                *(f"{r['name']}: summary {r['summary']}" for _, r in twos if r.get("summary") != "off"),
                                *([d["note"]] if d.get("note") else [])])])
    return table(["run", "items", "herding (two rounds)", "agreement one → two rounds", "calls ×", "tokens ×",
                  "latency ×", "context"], rows)


def chair(data: dict) -> list[str]:
    """One row per set of dishonest and honest chair replies (bench/chair_attacks.py): what the checks caught."""
    order = ("seen", "generated", "sealed_first_run", "sealed")
    sets = [(k, data[k]) for k in order if isinstance(data.get(k), dict)]
    loop = data.get("machine", {})
    out = [f"Machine speed: a fixed CPU loop (3M iterations) took **{cell(loop.get('cpu_loop_s'))} s** in this run.", ""]
    out += table(["set", "cases", "dishonest rejected", "recall %", "honest accepted", "false rejections %",
                  "markup rejected (else escaped)", "check ms per case"],
                 [[human(k) + (f" (seed {v['seed']})" if "seed" in v else ""), v.get("cases"),
                   f"{cell(v.get('rejected_when_dishonest'))} of {cell(v.get('dishonest'))}",
                   None if v.get("recall") is None else round(100 * v["recall"], 1),
                   f"{cell(v.get('accepted_when_honest'))} of {cell(v.get('honest'))}",
                   None if v.get("false_rejection_rate") is None else round(100 * v["false_rejection_rate"], 1),
                   f"{cell(v.get('markup_rejected'))} of {cell(v.get('markup'))}", v.get("check_ms_per_case")]
                  for k, v in sets])
    threats = sorted({t for _, v in sets for t in v.get("by_threat", {})})
    out += ["", "### Dishonest replies rejected, by threat", ""]
    of = {(k, t): f"{r['rejected']} of {r['dishonest']}" for k, v in sets for t, r in v.get("by_threat", {}).items()}
    out += table(["threat"] + [human(k) for k, _ in sets], [[t] + [of.get((k, t)) for k, _ in sets] for t in threats])
    wrong = [f"{human(k)}: {item}" for k, v in sets for what in ("missed", "falsely_rejected", "crashed")
             for item in v.get(what, [])]
    return out + (["", "Got wrong: " + cell("; ".join(wrong))] if wrong else [])


SPECIAL = {"results.json": results, "fuzz.json": fuzz, "redteam.json": redteam, "take_quality.json": take_quality,
           "profile.json": profile, "screening.json": screening, "model_screen.json": model_screen,
           "deliberation.json": deliberation, "chair.json": chair}


# ---------------------------------------------------------------- the page

def command(path: Path, data) -> str:
    """The command recorded in the file, else the known one, else the bench script of the same name."""
    if isinstance(data, dict) and isinstance(data.get("command"), str):
        return f"Written by `{data['command']}`."
    if path.name in COMMANDS:
        return COMMANDS[path.name]
    script = path.with_suffix(".py")
    return f"Written by `python bench/{script.name}`." if script.exists() else "The command that wrote it is unknown."


def section(path: Path) -> list[str]:
    title = TITLES.get(path.name, human(path.stem).capitalize())
    out = [f"## {title} (`{path.name}`)", ""]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return out + [f"Could not be read ({cell(exc)}). [raw JSON](../bench/{path.name})", ""]
    out += [f"{command(path, data)} [raw JSON](../bench/{path.name})", ""]
    if isinstance(data, dict) and "command" in data:
        data = {k: v for k, v in data.items() if k != "command"}
    try:
        body = SPECIAL[path.name](data) if path.name in SPECIAL else generic(data)
    except Exception:  # noqa: BLE001 - a file that changed shape must still be readable, just less tailored
        try:
            body = generic(data)
        except Exception:  # noqa: BLE001 - never lose the page over one file
            body = [f"Could not be tabulated; see the raw JSON ({cell(data)})."]
    return out + body + [""]


def render(bench: Path) -> str:
    lines = ["# Benchmarks", "",
             "Generated by `python bench/report.py` from `bench/*.json`; do not edit by hand. Each figure is a ratio "
             "against a baseline measured in the same run (a hand-written equivalent, an ideal, or the full "
             "operation); absolute times are context only. Machines here differ about 3x in speed from one session "
             "to the next, so the speed benchmark records a fixed CPU loop timed in the same run. "
             "`—` marks a figure that was not measured (null in the JSON).", ""]
    for path in sorted(bench.glob("*.json"), key=lambda p: (p.name != "results.json", p.name)):  # headline first
        lines += section(path)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=ROOT / "bench", help="folder of the *.json figures")
    ap.add_argument("--out", type=Path, default=DOC, help="the Markdown page to write")
    args = ap.parse_args(argv)
    text = render(args.bench)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.exists() or args.out.read_text(encoding="utf-8") != text:
        args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
