"""`toolpanel eval --configs FILE`: the configurations to run side by side on one gold set (issue 27;
docs/eval.md). This module reads and checks the file; toolpanel.eval.side_by_side runs it.

The file is TOML (`[[configs]]` tables) or YAML (a `configs:` list); each configuration:

    name     its label in the report (required, unique)
    rounds   1 (independent takes) or 2 (a second round after reading the others; [panel] rounds)
    summary  true: the chair's panel summary after each verdict ([panel] summary)
    model    one model for every persona, or
    models   a model pool per persona id ({skeptic = ["m1", "m2"]}; the others keep the configured models)

Every error names the file, the configuration and the field, and the fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolpanel.errors import ExitCode, ToolpanelError
from toolpanel.eval.gold import suggest

EXAMPLE = "examples/eval-configs.toml"
MAX_BYTES = 65_536


class EvalConfigError(ToolpanelError):
    """A configurations file that cannot be used: nothing is run."""

    code = ExitCode.CONFIG


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    rounds: int = Field(default=1, ge=1, le=2, strict=True)
    summary: bool = Field(default=False, strict=True)
    model: str | None = Field(default=None, min_length=1)
    models: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        """One round, no summary, the configured models: what the multipliers divide by."""
        return self.rounds == 1 and not self.summary and self.model is None and not self.models


FIELDS = list(EvalConfig.model_fields)
FIXES = {
    "name": 'give each configuration a name, e.g. name = "two rounds"',
    "rounds": "write rounds = 1 (independent takes) or rounds = 2 (a second round after reading the others)",
    "summary": "write summary = true or summary = false",
    "model": 'write model = "MODEL" (one model for every persona) or leave it out',
    "models": 'write models = {skeptic = ["MODEL", ...]}: persona id -> a list of models',
}


def load_configs(path: Path, persona_ids: list[str]) -> list[EvalConfig]:
    """The configurations of `path`, checked; raises EvalConfigError naming file, configuration and field."""
    where = str(path)
    data = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("configs"), list) or not data["configs"]:
        extra = [k for k in data if k != "configs"] if isinstance(data, dict) else []
        problem = (f"unknown key '{extra[0]}'" if extra else "no configurations")
        fix = (suggest(extra[0], ["configs"]) + "; " if extra else "") + \
            f"list them as [[configs]] tables (TOML) or a configs: list (YAML), each with a name — see {EXAMPLE}"
        raise EvalConfigError(problem, fix, file=where)
    if unknown := [k for k in data if k != "configs"]:
        raise EvalConfigError(f"unknown key '{unknown[0]}'", f"{suggest(unknown[0], ['configs'])} (the file holds "
                              "only configs)", file=where)
    configs: list[EvalConfig] = []
    for i, raw in enumerate(data["configs"], 1):
        label = f"config '{raw['name']}'" if isinstance(raw, dict) and isinstance(raw.get("name"), str) \
            and raw["name"] else f"config #{i}"
        at = f"{where}: {label}"
        if not isinstance(raw, dict):
            raise EvalConfigError("is not a table", f"write each configuration as a [[configs]] table with a name "
                                  f"(see {EXAMPLE})", file=at)
        try:
            config = EvalConfig(**{str(k): v for k, v in raw.items()})
        except ValidationError as exc:
            raise _field_error(at, exc.errors()[0], raw) from None
        _check(at, config, persona_ids, configs)
        configs.append(config)
    return configs


def _read(path: Path):
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise EvalConfigError("is not a .toml, .yaml or .yml file", f"write the configurations as TOML or YAML "
                              f"(see {EXAMPLE})", file=where)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise EvalConfigError(f"is larger than {MAX_BYTES:,} bytes", "list a few configurations, not data",
                                  file=where)
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalConfigError(f"cannot be read ({exc.__class__.__name__})", "name an existing UTF-8 text file",
                              file=where) from None
    try:
        return tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise EvalConfigError(f"invalid TOML: {exc}", "fix the syntax", file=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise EvalConfigError(f"YAML syntax error{f' at line {mark.line + 1}' if mark else ''}",
                              "fix the YAML (close quotes; quote values with ':')", file=where) from None


def _field_error(at: str, err: dict, raw: dict) -> EvalConfigError:
    loc = [str(x) for x in err["loc"]]
    key = loc[0] if loc else ""
    if err["type"] == "extra_forbidden":
        return EvalConfigError("unknown field", f"{suggest(key, FIELDS)} (allowed: {', '.join(FIELDS)})",
                               file=at, field=key)
    if err["type"] == "missing":
        return EvalConfigError("is missing", FIXES.get(key, ""), file=at, field=key)
    value = raw.get(key)
    got = f"{value!r} is not allowed" if key in ("rounds", "summary") else err["msg"].removeprefix("Value error, ")
    return EvalConfigError(got, FIXES.get(key, ""), file=at, field=".".join(loc))


def _check(at: str, config: EvalConfig, persona_ids: list[str], earlier: list[EvalConfig]) -> None:
    if any(c.name == config.name for c in earlier):
        raise EvalConfigError(f"'{config.name}' names two configurations", "give each configuration its own name",
                              file=at, field="name")
    if config.model and config.models:
        raise EvalConfigError("model and models are both set", "keep one: model (one model for every persona) "
                              "or models (a pool per persona)", file=at, field="models")
    for pid, pool in config.models.items():
        if pid not in persona_ids:
            raise EvalConfigError(f"no persona '{pid}'", f"{suggest(pid, persona_ids)} (the panel: "
                                  f"{', '.join(persona_ids)})", file=at, field=f"models.{pid}")
        if not pool or not all(isinstance(m, str) and m for m in pool):
            raise EvalConfigError("is not a list of model names", FIXES["models"], file=at, field=f"models.{pid}")
