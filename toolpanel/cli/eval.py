"""`toolpanel eval`: measure the panel against editor gold; list past evals; compare two of them; run
configurations side by side (`--configs`, toolpanel.eval.side_by_side)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from toolpanel.sections import REPO_ROOT
from toolpanel.cli.console import app, dump, err, fail, out, show
from toolpanel.cli.console import personas as _personas
from toolpanel.cli.console import settings as _settings
from toolpanel.errors import ExitCode, ToolpanelError
from warehouse.store import Warehouse

ORDER = 80  # place in --help (toolpanel/cli/__init__.py)

DEFAULT_GOLD = Path("eval") / "gold"


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


@app.command("eval")
def eval_command(
    gold: Annotated[Optional[list[str]], typer.Argument(
        help="Gold files or directories (default: eval/gold/).")] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Reviews of identical input per item.")] = 1,
    model: Annotated[Optional[str], typer.Option(
        metavar="NAME", help="Model for every persona (overrides config).")] = None,
    no_shuffle: Annotated[bool, typer.Option("--no-shuffle", help="Skip the shuffled-persona-order review.")] = False,
    list_runs: Annotated[bool, typer.Option("--list", help="Show past eval runs with their ids.")] = False,
    compare: Annotated[Optional[tuple[str, str]], typer.Option(
        "--compare", metavar="RUN_A RUN_B", help="Two eval runs' figures side by side, with B − A.")] = None,
    configs: Annotated[Optional[Path], typer.Option(
        "--configs", metavar="FILE", help="Run the configurations in FILE (TOML or YAML: name, rounds, summary, "
        "model or models) side by side on the gold set; cost and latency as multipliers of a one-round panel "
        "without summary.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Review the gold set with the configured provider and report how the panel measures up.

    Eval runs never read or write production takes and never change what is published."""
    settings = _settings()
    store = Warehouse(settings.warehouse_path)
    if list_runs:
        return _list(store, as_json)
    if compare:
        return _compare(store, *compare, as_json)
    if configs and model:
        fail(ToolpanelError("--model and --configs do not go together",
                            f"set model = \"{model}\" in the configurations of {configs} instead"))
    loaded = _configs(configs, settings) if configs else None
    with store.connect():  # a held warehouse stops the eval before anything is paid (exit 4), not after
        pass
    if loaded is not None:
        return _run_configs(settings, store, gold, loaded, repeats, not no_shuffle, as_json, str(configs))
    _run(settings, store, gold, repeats, model, not no_shuffle, as_json)


def _configs(path: Path, settings) -> list:
    from toolpanel.eval.configs import load_configs

    try:
        return load_configs(path, [p.id for p in _personas(settings)])
    except ToolpanelError as exc:
        fail(exc)


def _list(store: Warehouse, as_json: bool) -> None:
    from warehouse.evals import list_evals

    runs = list_evals(store)
    if as_json:
        return dump(runs)
    if not runs:
        out.print("no eval runs yet — run `toolpanel eval`")
        return
    table = Table()
    for col in ("id", "started", "model", "items", "repeats", "accuracy", "κ", "flip rate", "cost", "wall s"):
        table.add_column(col)
    for r in runs:
        table.add_row(r["eval_run_id"], str(r["started_at"])[:19], escape(r["model"]), str(r["items"]),
                      str(r["repeats"]), _fmt(_num(r["accuracy"])), _fmt(_num(r["kappa"])),
                      _fmt(_num(r["flip_rate"])),
                      "unknown" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}", _fmt(r["wall_seconds"]))
    show(table)


def _num(v):
    try:
        return None if v is None else float(v)
    except ValueError:
        return None


def _compare(store: Warehouse, a: str, b: str, as_json: bool) -> None:
    from toolpanel.eval.run import compare as compare_figures
    from warehouse.evals import eval_figures

    runs = []
    for rid in (a, b):
        run = eval_figures(store, rid)
        if run is None:
            fail(ToolpanelError(f"no eval run '{rid}'", "see the ids with `toolpanel eval --list`",
                                code=ExitCode.CONFIG))
        runs.append(run)
    rows = compare_figures(runs[0]["figures"], runs[1]["figures"])
    if as_json:
        return dump({"a": {k: runs[0][k] for k in ("eval_run_id", "model")},
                     "b": {k: runs[1][k] for k in ("eval_run_id", "model")}, "figures": rows})
    table = Table(title=f"A = {a} ({escape(runs[0]['model'])})   B = {b} ({escape(runs[1]['model'])})")
    for col in ("figure", "A", "B", "B − A"):
        table.add_column(col)
    for r in rows:
        d = r["diff"]
        table.add_row(escape(r["figure"]), _fmt(r["a"]), _fmt(r["b"]),
                      "" if d is None else ("0" if d == 0 else f"{d:+.4g}"))
    show(table)


def _on_provider(settings, work):
    """(live settings, the result of `await work(live, llm)`) against the configured provider or the bundled
    model; exit 2 when the bundled model cannot start."""
    from toolpanel.panel.llm import LLM
    from toolpanel.panel.local_model import LocalModelError
    from toolpanel.panel.provider import resolved_settings

    try:
        with resolved_settings(settings) as live:
            async def go():
                llm = LLM(live, mode_cache=live.home / "endpoints.json")
                try:
                    return await work(live, llm)
                finally:
                    await llm.aclose()
            return live, asyncio.run(go())
    except LocalModelError as exc:
        fail(str(exc), ExitCode.CONFIG)


def _store(store: Warehouse, settings, live, personas, started, outcome, figs, label: str, repeats: int,
           shuffles: bool, **extra) -> str:
    from toolpanel.panel import prompts
    from toolpanel.panel.provider import profile_for
    from warehouse.evals import store_eval

    return store_eval(store, started_at=started, outcome=outcome, figures=figs, model_label=label,
                      prompt_hash=prompts.prompt_hash(settings.prompts_dir, profile_for(settings)),
                      persona_versions={p.id: p.version for p in personas}, repeats=repeats, shuffles=shuffles,
                      settings={"temperature": live.temperature, "max_tokens": live.max_tokens,
                                "base_url": settings.base_url or ("local" if settings.uses_local_model else None),
                                **extra})


def _progress(total: int, as_json: bool):
    done = 0

    def progress(review, prefix: str = "") -> None:
        nonlocal done
        done += 1
        if not as_json:
            err.print(f"[dim]{done}/{total} {escape(prefix)}{review.item.tool.slug} ({review.variant}, repeat "
                      f"{review.repeat + 1}): {review.verdict.verdict}[/dim]")
    return progress


def _run(settings, store: Warehouse, gold, repeats: int, model: str | None, shuffles: bool, as_json: bool) -> None:
    from toolpanel.eval.run import figures as compute_figures
    from toolpanel.eval.run import run_eval
    from warehouse.rows import now

    personas = _personas(settings)
    items, errors = _gold_items(settings, gold, as_json)
    progress = _progress(len(items) * (repeats + int(shuffles)), as_json)
    started = now()
    live, outcome = _on_provider(settings, lambda live, llm: run_eval(
        live, personas, items, llm, repeats=repeats, shuffles=shuffles, model_override=model, on_review=progress))
    figs = compute_figures(outcome, [p.id for p in personas])
    label = model or ", ".join(outcome.models)
    rid = _store(store, settings, live, personas, started, outcome, figs, label, repeats, shuffles)
    if as_json:
        dump({"eval_run_id": rid, "model": label, "figures": figs,
              "rejected": [e.to_json() for e in errors]})
    else:
        _print_report(rid, label, figs)
    if errors:
        raise typer.Exit(int(ExitCode.REJECTED))


def _run_configs(settings, store: Warehouse, gold, configs: list, repeats: int, shuffles: bool, as_json: bool,
                 path: str) -> None:
    """`--configs FILE`: each configuration is an eval run of its own; one table (or JSON document) of all."""
    from toolpanel.eval.side_by_side import run_configs, side_by_side, with_baseline
    from warehouse.rows import new_id, now

    personas = _personas(settings)
    items, errors = _gold_items(settings, gold, as_json)
    ordered, _ = with_baseline(configs)
    progress = _progress(len(ordered) * len(items) * (repeats + int(shuffles)), as_json)
    started = now()
    live, runs = _on_provider(settings, lambda live, llm: run_configs(
        live, personas, items, llm, configs, repeats=repeats, shuffles=shuffles,
        on_review=lambda c, r: progress(r, f"{c.name}: ")))
    batch = new_id("evc")  # the eval runs of one --configs run share it (eval_runs.settings)
    ids = [_store(store, settings, live, personas, started, r.outcome, r.figures,
                  f"{r.config.name}: {r.config.model or ', '.join(r.outcome.models)}", repeats, shuffles,
                  configs_run=batch, configs_file=path, config=r.config.model_dump()) for r in runs]
    rows = [row | {"eval_run_id": rid} for row, rid in zip(side_by_side(runs), ids)]
    if as_json:
        dump({"configs_run": batch, "file": path, "items": len(items), "repeats": repeats, "configs": rows,
              "rejected": [e.to_json() for e in errors]})
    else:
        _print_configs(batch, path, len(items), rows)
    if errors:
        raise typer.Exit(int(ExitCode.REJECTED))


def _x(v) -> str:
    return "n/a" if v is None else f"{v:.2f}×"


def _print_configs(batch: str, path: str, items: int, rows: list[dict]) -> None:
    base = rows[0]
    out.rule(f"[bold]{escape(path)}[/bold] · {len(rows)} configurations · {items} gold items · {batch}")
    table = Table()
    for col in ("config", "rounds", "summary", "agree", "κ", "flip rate", "repeat agr.", "herding", "calls ×",
                "tokens ×", "cost ×", "latency ×"):
        table.add_column(col)
    for r in rows:
        m = r["multipliers"]
        table.add_row(escape(r["name"]) + (" (baseline)" if r["baseline"] else ""), str(r["rounds"]), r["summary"],
                      _fmt(r["accuracy"]), _fmt(r["kappa"]), _fmt(r["flip_rate"]), _fmt(r["repeat_agreement"]),
                      _fmt(r["herding"]), _x(m["calls"]), _x(m["tokens"]), _x(m["cost"]), _x(m["latency"]))
    show(table)
    cost = "unknown (no price configured)" if base["cost_usd"] is None else f"${base['cost_usd']:.4f}"
    added = ", added: the file has no one-round configuration without summary" if base["added"] else ""
    out.print(f"Baseline ({escape(base['name'])}{added}): {base['calls']} calls, {base['tokens']:,} tokens, "
              f"cost {cost}, {_fmt(base['review_seconds'])} s per review. Multipliers divide each configuration by it.")
    if any(r["summary"] == "not run" for r in rows):
        out.print("Summary: not run — the chair wrote no summary (the bundled model writes none unless [panel] "
                  "chair_model names a model); those configurations' figures are without it.")
    out.print(f"[dim]stored as eval runs {', '.join(r['eval_run_id'] for r in rows)} (eval tables); production "
              "takes untouched[/dim]")


def _gold_items(settings, gold, as_json: bool) -> tuple[list, list]:
    """The gold items to review, and the rejected files (printed); exit 1 when none is usable."""
    from toolpanel.eval.gold import load_gold
    from toolpanel.panel.local_model import DEMO_NOTICE

    if not gold:
        default = DEFAULT_GOLD if DEFAULT_GOLD.is_dir() else REPO_ROOT / DEFAULT_GOLD
        gold = [str(default)]
    items, errors = load_gold(gold, [p.id for p in _personas(settings)])
    for e in errors:
        err.print(f"[red]rejected[/red] {escape(str(e))}")
    if not items:
        fail(ToolpanelError("no usable gold items", "name gold files or a directory of them, e.g. eval/gold/"),
             ExitCode.REJECTED)
    if settings.uses_local_model and not as_json:
        err.print(f"[yellow]note:[/yellow] {DEMO_NOTICE}")
    return items, errors


def _print_report(rid: str, label: str, f: dict) -> None:
    p, rep, o, c = f["panel"], f["repeatability"], f["order"], f["cost"]
    out.rule(f"[bold]eval {rid}[/bold] · model {escape(label)} · {f['items']} gold items")
    out.print(f"Panel verdict: accuracy {_fmt(p['accuracy'])}, Cohen's κ {_fmt(p['kappa'])} "
              f"over {p['reviews']} reviews; incomplete {p['incomplete']} (counted as wrong)")
    out.print(f"Repeatability ({rep['repeats']} repeats): verdict agreement {_fmt(rep['verdict_agreement'])}, "
              f"score SD {_fmt(rep['score_sd_mean'])}")
    out.print(f"Order sensitivity: {o['flips']} of {o['items']} verdicts flipped with the persona order shuffled "
              f"(flip rate {_fmt(o['flip_rate'])})" + (f": {', '.join(o['flipped'])}" if o["flipped"] else ""))
    for model, v in f["effective_votes"]["per_model"].items():
        out.print(f"Effective independent votes ({escape(model)}): {_fmt(v['n_eff'])} of {v['of']}")
    var = f["variance"]
    out.print(f"Score variance explained: persona {_fmt(var['persona_share'])}, model {_fmt(var['model_share'])} "
              f"({var['models']} model{'s' if var['models'] != 1 else ''}), item {_fmt(var['item_share'])}")
    g = f["grounding"]
    out.print("Grounding: " + (g["note"] if g.get("note") else f"{_fmt(g['grounded_share'])} of takes quote the card"))
    out.print("Calibration (score → share of gold ships): " + ", ".join(
        f"{b['bucket']}: {_fmt(b['gold_ship_share'])} (n={b['takes']})" for b in f["calibration"]))
    table = Table(title="Per persona")
    cols = ("persona", "agree", "MAE", "Spearman", "abstain P", "abstain R", "repeat SD", "grounded", "failed")
    for col in cols:
        table.add_column(col)
    for pid, v in f["personas"].items():
        table.add_row(pid, *(_fmt(v[k]) for k in ("verdict_agreement", "score_mae", "score_spearman",
                                                   "abstain_precision", "abstain_recall", "repeat_score_sd",
                                                   "grounded", "failed")))
    show(table)
    cost = "unknown (no price configured)" if c["cost_usd"] is None else f"${c['cost_usd']:.4f}"
    out.print(f"{c['calls']} calls · {c['tokens_in']:,} tokens in, {c['tokens_out']:,} out · cost {cost} · "
              f"{c['wall_seconds']:.1f} s · {c['failed_takes']} failed takes")
    out.print(f"[dim]stored as eval run {rid} (eval_runs, eval_items, eval_takes); production takes untouched[/dim]")
