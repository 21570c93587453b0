"""Settings: environment first, then toolpanel.toml (current directory, then TOOLPANEL_HOME)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolpanel.errors import ConfigError
from toolpanel.sections import (
    DEMO_MODEL, REPO_ROOT, Budget, FlowSettings, HoldSettings, Limits, LocalModel, PersonaSettings,
    NewsletterSettings, PanelSettings, Price, PublishSettings, ScreeningSettings, ServeSettings, SourcesSettings, pick_model)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: Path
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    persona_models: dict[str, str] = Field(default_factory=dict)  # [models]: persona -> one model
    personas: dict[str, PersonaSettings] = Field(default_factory=dict)  # [personas.ID]: model pools
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    concurrency: int = Field(default=8, ge=1)
    max_tokens: int = Field(default=600, ge=64)
    temperature: float = 0.4
    output_mode: Literal["auto", "json_schema", "json_object_schema", "json_object", "text"] = "auto"
    # auto: compact for the bundled model and for a loopback server that reports a small context (provider.py)
    prompt_profile: Literal["auto", "default", "compact"] = "auto"
    prices: dict[str, Price] = Field(default_factory=dict)
    local: LocalModel = Field(default_factory=LocalModel)
    limits: Limits = Field(default_factory=Limits)
    budget: Budget = Field(default_factory=Budget)
    hold: HoldSettings = Field(default_factory=HoldSettings)
    panel: PanelSettings = Field(default_factory=PanelSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    personas_dir: Path = REPO_ROOT / "personas"
    prompts_dir: Path = REPO_ROOT / "prompts"
    config_path: Path | None = None
    flows: FlowSettings = Field(default_factory=FlowSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    newsletter: NewsletterSettings = Field(default_factory=NewsletterSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)

    @property
    def uses_local_model(self) -> bool:
        return not self.api_key and not self.base_url

    def model_pool(self, persona_id: str) -> list[str]:
        """The models a persona may use: its `[personas.ID] models`, its `[models]` entry, or the default."""
        if persona_id in self.personas:
            return list(self.personas[persona_id].models)
        return [self.persona_models.get(persona_id, self.model)]

    def model_for(self, persona_id: str, slug: str = "") -> str:
        """The model a persona uses for one tool (the pool entry picked by the tool's slug)."""
        return pick_model(self.model_pool(persona_id), slug)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def snapshot_path(self) -> Path:
        return self.home / "analyst.duckdb"

    @property
    def site_dir(self) -> Path:
        return self.home / "site"


def _error_line(where: str, err: dict) -> str:
    loc = [str(x) for x in err["loc"]]
    section = Settings.model_fields.get(loc[0]) if loc else None
    keys = getattr(section.annotation, "model_fields", None) if section else None
    if err["type"] == "extra_forbidden" and len(loc) == 2 and keys:  # a typo'd key in a typed [section]
        allowed = ", ".join(keys)
        return f"{where}: [{loc[0]}]: unknown key '{loc[1]}' (allowed: {allowed})"
    msg = err["msg"].removeprefix("Value error, ")
    if loc and loc[0] == "sources":  # the validators' messages name the key
        return f"{where}: [sources]: {msg}"
    if len(loc) >= 2 and keys:  # a bad value in a typed [section]
        return f"{where}: [{loc[0]}] {'.'.join(loc[1:])}: {msg}"
    return f"{where}: {'.'.join(loc)}: {msg}"


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
                    "output_mode", "prompt_profile"):
            if key in provider:
                values[key] = provider.pop(key)
        if provider:
            raise ConfigError(f"{path}: unknown key(s) in [provider]: {', '.join(sorted(provider))} — allowed: "
                              "base_url, model, timeout, max_retries, concurrency, max_tokens, temperature, output_mode, "
                              "prompt_profile (put the API key in OPENAI_API_KEY, never in the file)")
        if "models" in data:
            values["persona_models"] = data.pop("models")
        if "personas" in data:
            values["personas"] = data.pop("personas")
            both = sorted(set(values.get("persona_models") or {}) & set(values["personas"] if isinstance(values["personas"], dict) else {}))
            if both:
                raise ConfigError(f"{path}: persona(s) {', '.join(both)} named in both [models] and [personas.ID] — "
                                  "keep one: a single model in [models], or a pool in [personas.ID] models = [...]")
        for key in ("prices", "local", "limits", "budget", "hold", "panel", "screening"):
            if key in data:
                values[key] = data.pop(key)
        if isinstance(values.get("screening"), dict) and "rules" in values["screening"]:
            values["screening"]["rules"] = (path.parent / str(values["screening"]["rules"])).resolve()
        for key in ("personas_dir", "prompts_dir"):
            if key in data:
                values[key] = (path.parent / data.pop(key)).resolve()
        values.update({k: data.pop(k) for k in list(data) if k in ("publish", "flows", "serve", "sources", "newsletter")})
        if data:
            raise ConfigError(f"{path}: unknown section(s) or key(s): {', '.join(sorted(data))} — allowed: "
                              "[provider], [models], [personas.ID], [prices.\"MODEL\"], [local], [limits], [budget], "
                              "[hold], [panel], [screening], [flows], [serve], [publish], [sources], [newsletter], personas_dir, prompts_dir")
        values["config_path"] = path
    env = os.environ
    if env.get("OPENAI_API_KEY"):
        values["api_key"] = env["OPENAI_API_KEY"]
    if env.get("OPENAI_BASE_URL"):
        values["base_url"] = env["OPENAI_BASE_URL"]
    if env.get("TOOLPANEL_MODEL"):
        values["model"] = env["TOOLPANEL_MODEL"]
    if env.get("TOOLPANEL_PROMPT_PROFILE"):
        values["prompt_profile"] = env["TOOLPANEL_PROMPT_PROFILE"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        where = str(path) if path else "settings"
        lines = [_error_line(where, err) for err in exc.errors()]
        fix = "" if all(" — " in line for line in lines) else " — fix the value in toolpanel.toml or the environment"
        raise ConfigError("; ".join(lines) + fix) from None
    _check_hold_switches(settings, str(path) if path else "settings")
    if settings.uses_local_model:
        settings = settings.model_copy(update={"model": DEMO_MODEL, "persona_models": {}, "personas": {}})
    return settings


def _check_hold_switches(settings: Settings, where: str) -> None:
    """`[hold]` keys beyond its fields switch rules added as files in scoring/holdrules/; anything else is a typo."""
    from scoring.holdrules import rules

    extra = settings.hold.model_extra or {}
    unknown = sorted(set(extra) - set(rules()))
    if unknown:
        raise ConfigError(f"{where}: [hold] {', '.join(unknown)}: no such hold rule — the rules are "
                          f"{', '.join(rules())}, plus wait_days and hold_all; fix the name or remove the key")
    wrong = sorted(k for k, v in extra.items() if not isinstance(v, bool))
    if wrong:
        raise ConfigError(f"{where}: [hold] {', '.join(wrong)}: a rule's switch is true or false — fix the value")
