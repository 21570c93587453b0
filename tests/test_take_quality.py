"""bench/take_quality.py reads the figures the issue asks for from a real warehouse."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import SEED_A
from tests.test_panel import review
from toolpanel.sections import REPO_ROOT


def test_take_quality_figures(tp_home, provider_env, tmp_path):
    provider_env.script("contradiction", persona="builder")
    provider_env.script("contradiction_then_valid", persona="skeptic", score=30, verdict="skip")
    provider_env.script("ungrounded", persona="futurist", score=70)
    provider_env.script("valid", persona="founder", score=65)
    provider_env.script("valid", persona="creator", score=64)
    settings, _ = review([SEED_A])
    out = tmp_path / "q.json"
    subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "take_quality.py"), str(settings.warehouse_path),
                    "--label", "t", "--out", str(out)], check=True, capture_output=True)
    q = json.loads(out.read_text())["t"]
    assert (q["takes"], q["ok"], q["failed"]) == (5, 4, 1)
    assert (q["counted_contradictions"], q["contradictions_repaired"], q["contradictions_failed"]) == (0, 1, 1)
    assert q["contradiction_rate_pct"] == 40.0 and q["invalid_output_rate_pct"] == 20.0
    assert q["grounded_share_pct"] == 75.0
    assert (q["ship_takes"], q["skip_takes"], q["distinct_scores"]) == (3, 1, 4)
    assert q["panel_verdicts"] == {"ship": 1}
