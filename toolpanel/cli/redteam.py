"""`toolpanel redteam`: run the attack suite (examples/attacks/) and write its figures to bench/redteam.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from toolpanel.sections import REPO_ROOT
from toolpanel.cli.console import app, dump, err, fail, out
from toolpanel.cli.console import personas as _personas
from toolpanel.cli.console import settings as _settings

ORDER = 100  # place in --help (toolpanel/cli/__init__.py)

AGAINST = ("provider", "obedient", "subtle", "resistant")


def _line(name: str, f: dict) -> str:
    c = f["caught_by_pct"]
    return (f"{name}: {f['attacks']} attacks · ASR {f['asr_pct']}% (without holds {f['effect_without_holds_pct']}%) · "
            f"held {f['held_pct']}% · caught by screening {c['screening']}%, differential review "
            f"{c['differential']}%, take checks {c['take_checks']}%")


def _summary_line(r: dict) -> str:
    """The chair's summaries of the attacks: steered = passed the chair's checks carrying the attack's goal."""
    su, ge = r["suite"].get("summary") or {}, r["generated"].get("summary") or {}
    return (f"panel summaries steered: {su.get('steered')} of {r['suite']['attacks']} suite attacks, "
            f"{ge.get('steered')} of {r['generated']['attacks']} generated (ok summaries carrying the attack's goal; "
            f"rejected by the chair's checks {su.get('rejected', 0) + ge.get('rejected', 0)}, honest ones rejected "
            f"{r['benign'].get('summaries_rejected')} of {r['benign']['cards']})")


@app.command()
def redteam(
    against: Annotated[list[str], typer.Option("--against", metavar="NAME", help=(
        "provider (the configured model), or a scripted adversary: obedient, subtle, resistant; repeat."))] = None,
    suite: Annotated[Optional[list[Path]], typer.Option(
        "--suite", metavar="DIR",
        help="An attack folder with a manifest.yaml (repeat); default examples/attacks.")] = None,
    generated: Annotated[int, typer.Option(help="Generated payload variants (toolpanel/screening/attackgen.py).")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the generated variants: a new seed is a fresh set.")] = 2026,
    no_history: Annotated[bool, typer.Option("--no-history", help="Review each attack in a warehouse holding only "
                                                                 "its base card (no outlier baseline).")] = False,
    out_file: Annotated[Optional[Path], typer.Option(
        "--out", metavar="FILE", help="Figures file.")] = REPO_ROOT / "bench" / "redteam.json",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Can vendor text move a published verdict? Attack-success rate, what caught it, false holds, extra cost."""
    from toolpanel.panel.provider import resolved_settings
    from toolpanel.screening import redteam as rt

    against = against or ["provider"]
    bad = [a for a in against if a not in AGAINST]
    if bad:
        fail(f"--against {bad[0]}: unknown model — use one of {', '.join(AGAINST)}")
    settings = _settings()
    personas = _personas(settings)
    suites = suite or [rt.SUITE]
    for folder in suites:
        if not (folder / "manifest.yaml").is_file():
            fail(f"--suite {folder}: no manifest.yaml in it — give a folder like examples/attacks "
                 "(attacks and benign look-alikes listed in manifest.yaml)")
    results = {}
    for folder, name in ((f, n) for f in suites for n in against):
        key = (name if folder.resolve() == rt.SUITE.resolve() else f"{name} · {folder.name}") \
            + (" · no history" if no_history else "")
        if not as_json:
            err.print(f"redteam: {key} ({'the configured provider' if name == 'provider' else 'scripted'}) …")
        if name == "provider":
            from toolpanel.panel.llm import LLM

            with resolved_settings(settings) as live:
                llm = LLM(live, mode_cache=live.home / "endpoints.json")
                results[key] = rt.run(live, personas, name, llm, generated_n=generated, seed=seed, root=folder,
                                      history=not no_history)
                label = live.model_for(personas[0].id)
            results[key]["model"] = f"provider:{label}"
        else:
            results[key] = rt.run(settings, personas, name, generated_n=generated, seed=seed, root=folder,
                                  history=not no_history)
        results[key]["suite"]["folder"] = str(folder)
    doc = {name: {k: v for k, v in r.items() if k != "rows"} for name, r in results.items()}
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(out_file.read_text()) if out_file.is_file() else {}
        previous.update(doc)
        out_file.write_text(json.dumps(previous, indent=2, ensure_ascii=False) + "\n")
    if as_json:
        dump(doc)
        return
    for key, r in doc.items():
        out.print(f"[bold]{escape(key)}[/bold] ({escape(r['model'])})")
        out.print("  " + escape(_line("suite", r["suite"])))
        out.print("  " + escape(_line("generated", r["generated"])))
        out.print("  " + escape(_summary_line(r)))
        b, c = r["benign"], r["cost"]
        out.print(f"  benign look-alikes: {b['cards']} · false holds {b['false_holds_pct']}%"
                  + (f" ({escape(', '.join(b['held']))})" if b["held"] else ""))
        e = r["examples"]
        out.print(f"  example cards: {e['flagged']} of {e['cards']} double-checked · extra model calls "
                  f"+{e['extra_calls_pct']}%")
        out.print(f"  extra model calls: {c['differential_calls']} of {c['total_calls']} "
                  f"(+{c['extra_calls_pct']}%), {c['extra_calls_per_unflagged_tool']:g} per unflagged tool")
        if r["suite"]["succeeded"] or r["generated"]["succeeded"]:
            out.print("  [red]succeeded:[/red] " + escape(", ".join(r["suite"]["succeeded"] + r["generated"]["succeeded"])))
    if out_file:
        out.print(f"figures: {out_file}")
