"""`toolpanel eval` with the bundled local model on one gold item, 1 repeat: the bundled path end to end.

Figures over several items (accuracy, kappa, order flips, effective votes) are tested with scripted panels in
tests/test_eval.py; this test proves the same command runs on the real local model and labels its figures."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import ROOT, cli, project_toml, rows

pytestmark = pytest.mark.slow


def test_bundled_model_eval_on_one_gold_item(tp_home, tmp_path):
    gold = ROOT / "eval" / "gold"
    env = {"TOOLPANEL_HOME": os.environ["TOOLPANEL_HOME"]}
    project_toml(tmp_path)  # the fixture panel: five personas, five calls
    r = cli("eval", str(gold / "smolvlm2-turbo.yaml"), "--json", "--no-shuffle",
            env=env, cwd=tmp_path, timeout=1800)  # the 2-core machine may be busy
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["model"] == "smollm2-135m-instruct"  # figures are labelled with the model that produced them
    f = report["figures"]
    assert f["items"] == 1 and f["panel"]["reviews"] == 1 and f["models"] == ["smollm2-135m-instruct"]
    assert f["panel"]["accuracy"] in (0, 1, None) and f["cost"]["calls"] == 5 and f["cost"]["tokens_in"] > 0
    db = tp_home / "warehouse.duckdb"
    assert rows(db, "SELECT model FROM eval_runs") == [("smollm2-135m-instruct",)]
    assert rows(db, "SELECT count(*) FROM eval_takes")[0][0] == 5
    assert rows(db, "SELECT count(*) FROM takes")[0][0] == 0
