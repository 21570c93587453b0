"""The benchmarks still run (tiny sizes); their figures are measured by `make bench`, never asserted here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

from tests.helpers import ROOT


def test_bench_smoke_runs_and_prints_ratios(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--only", "5,6,8"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("5b. latest verdicts (analyst snapshot)", "6a. publish", "6b. incremental republish",
                 "8b. share of a persona prompt that is a common prefix"):
        assert name in r.stdout, r.stdout


def _key_paths(obj, parent: str | None = None) -> set[str]:
    """Every `parent.child` pair of dict keys in a JSON document: how the old report spelled its rows."""
    paths: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if parent is not None:
                paths.add(f"{parent}.{k}")
            paths |= _key_paths(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            paths |= _key_paths(v, parent)
    return paths


def _cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def _check_report(text: str, names: list[str], paths: set[str]) -> None:
    lines = text.splitlines()
    sections = "\n".join(lines).split("\n## ")[1:]
    for name in names:  # a section per file, headed with its name and linking its raw JSON
        own = [s for s in sections if s.splitlines()[0].endswith(f"(`{name}`)")]
        assert len(own) == 1, (name, [s.splitlines()[0] for s in sections])
        assert f"[raw JSON](../bench/{name})" in own[0], name
    paths = {p for p in paths if min(map(len, p.split("."))) >= 3}  # not "e.g" in a note
    dotted = [ln for ln in lines if "figures.personas." in ln or any(p in ln for p in paths)]
    assert not dotted, dotted[:5]
    blocks, block = [], []
    for ln in lines + [""]:
        if ln.startswith("|"):
            block.append(ln)
        elif block:
            blocks, block = blocks + [block], []
    assert len(blocks) >= 2 * len(names), len(blocks)
    for b in blocks:  # header, separator row, rows of as many cells as the header
        assert len(b) >= 3 and re.fullmatch(r"\|(:?-{3,}:?\|)+", b[1]), b[:3]
        assert {len(_cells(r)) for r in b} == {len(_cells(b[0]))}, b


def test_benchmarks_page_is_tables_per_file_not_json_paths(tmp_path):
    """bench/report.py on the real bench/*.json (and on a shape it has never seen) writes readable tables."""
    bench = tmp_path / "bench"
    bench.mkdir()
    real = sorted(p.name for p in (ROOT / "bench").glob("*.json"))
    assert {"eval.json", "redteam.json", "results.json"} <= set(real)
    paths: set[str] = set()
    for name in real:
        shutil.copy(ROOT / "bench" / name, bench / name)
        paths |= _key_paths(json.loads((bench / name).read_text(encoding="utf-8")))
    assert "figures.personas" in paths  # the check below can see the old rows

    def render() -> str:
        out = tmp_path / "docs" / "benchmarks.md"
        cmd = [sys.executable, str(ROOT / "bench" / "report.py"), "--bench", str(bench), "--out", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]
        return out.read_text(encoding="utf-8")

    text = render()
    _check_report(text, real, paths)
    assert len(text.splitlines()) <= 32 * len(real), len(text.splitlines())  # a compact section per file
    assert "Machine speed:" in text and "| None |" not in text and "| null |" not in text
    assert render() == text  # deterministic and idempotent

    odd = {"figures": {"nested": {"deeper": {"deepest": [1, [2, 3], {"x": None}]}}, "pipe": "a|b", "nothing": {},
                       "runs": [{"a": i} for i in range(40)], "flat": {f"k{i}": i for i in range(30)}}}
    (bench / "odd_shape.json").write_text(json.dumps(odd), encoding="utf-8")
    (bench / "broken.json").write_text("{not json", encoding="utf-8")
    text = render()
    _check_report(text, real + ["broken.json", "odd_shape.json"], paths | _key_paths(odd))
    assert "more rows in the raw JSON" in text  # 40 runs are cut, not dumped
