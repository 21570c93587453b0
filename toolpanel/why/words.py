"""A verdict change in words: the one-sentence summary, the detail lines of `toolpanel why` and the
tool page, and Markdown for artifacts."""

from __future__ import annotations

from toolpanel.models import Change, FieldChange, TakeDelta, TakeSide
from toolpanel.panel.provider import describe_endpoint, endpoint_change_phrase
from toolpanel.why.textdiff import diff_phrase
from toolpanel.text import md_escape

MAX_MOVES = 3


def take_word(s: TakeSide, with_score: bool) -> str:
    if s.status is None:
        return "no take"
    if s.status != "ok":
        return s.status  # abstained | failed
    return f"{s.verdict} {s.score}" if with_score else str(s.verdict)


def _move(d: TakeDelta) -> str:
    b, a = d.before, d.after
    if b.status == "ok" and a.status == "ok":
        if b.verdict != a.verdict:
            return f"{d.name} went {b.verdict} → {a.verdict} ({b.score} → {a.score})"
        return f"{d.name} {b.score} → {a.score}"
    return f"{d.name} went {take_word(b, True)} → {take_word(a, True)}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def moves(c: Change) -> list[str]:
    """Persona moves worth a sentence: every flip first, then score moves, biggest first."""
    flips = [d for d in c.takes if not d.same_take and d.flipped]
    scores = sorted((d for d in c.takes if not d.same_take and not d.flipped and d.score_delta),
                    key=lambda d: -abs(d.score_delta or 0))
    picked = (flips + scores)
    text = [_move(d) for d in picked[:MAX_MOVES]]
    if len(picked) > MAX_MOVES:
        text.append(f"{len(picked) - MAX_MOVES} more moved")
    return text


def causes(c: Change) -> list[str]:
    """What differed in the inputs, in the order an editor checks them."""
    out = []
    if c.description is not None:
        out.append(diff_phrase(c.description, "the description"))
    for f in c.card_fields:
        out.append(f"the card's {f.field} changed ({_q(f.before)} → {_q(f.after)})")
    for p in c.personas:
        if p.before_version is None:
            out.append(f"{p.name} joined the panel")
        elif p.after_version is None:
            out.append(f"{p.name} left the panel")
        elif p.fields is None:
            out.append(f"{p.name}'s persona file changed (which fields is unknown: the earlier run predates "
                       "per-field records)")
        elif p.fields:
            out.append(f"{p.name}'s persona file changed ({', '.join(p.fields)})")
        else:
            out.append(f"{p.name}'s persona file changed (formatting only)")
    if c.templates_changed:
        if c.templates is None:
            out.append("the prompt templates changed (which ones is unknown: the earlier run predates "
                       "per-template records)")
        else:
            out.append(f"the prompt template{'s' if len(c.templates) != 1 else ''} {_join(c.templates)} changed")
    if c.models:
        pairs = {(m.before, m.after) for m in c.models}
        if len(pairs) == 1 and len(c.models) > 1:
            before, after = next(iter(pairs))
            out.append(f"the model changed ({before} → {after})")
        else:
            out.append(_join([f"{m.name}'s model changed ({m.before} → {m.after})" for m in c.models]))
    for s in c.settings:
        out.append(endpoint_change_phrase(s.before, s.after) if _is_endpoint(s)
                   else f"the {s.field} changed ({_q(s.before)} → {_q(s.after)})")
    return out


def _is_endpoint(s: FieldChange) -> bool:
    return s.field == "provider endpoint"  # toolpanel.why.changes.ENDPOINT (changes imports this module)


def unchanged(c: Change) -> list[str]:
    parts = [("description", not c.description_changed and not c.card_fields), ("personas", not c.personas_changed),
             ("prompts", not c.templates_changed), ("model", not c.model_changed)]
    same = [name for name, ok in parts if ok]
    # the brief's word order reads best: "model and prompts unchanged"
    return sorted(same, key=["description", "personas", "model", "prompts"].index)


def _q(value: str | None, limit: int = 48) -> str:
    if value is None:
        return "none"
    return f"'{value}'" if len(value) <= limit else f"'{value[:limit - 2].rstrip()} …'"


def summary(c: Change) -> str:
    """One sentence: who moved, after what, and what stayed the same."""
    who, why = moves(c), causes(c)
    if why:
        head = (_join(who) + " after " if who else "No take moved although ") + _join(why)
    elif c.identical_inputs:
        what = "a forced re-review of identical inputs" if c.forced else "identical inputs"
        head = (_join(who) + f" on {what}: provider variance") if who else f"{what[:1].upper()}{what[1:]}: no take moved"
    else:
        head = _join(who) if who else "Nothing the panel reads changed and no take moved"
    tail = ""
    if why:
        same = unchanged(c)
        if same:
            tail = f"; {_join(same)} unchanged"
    text = head + tail
    return text[:1].upper() + text[1:] + "."


def detail_lines(c: Change) -> list[tuple[str, str]]:
    """One line per attribution class, so an editor sees what did not change too."""
    lines = []
    if c.description is not None:
        lines.append(("Description", diff_phrase(c.description, "").strip()))
    else:
        lines.append(("Description", "unchanged"))
    for f in c.card_fields:
        lines.append(("Card", f"{f.field}: {f.before or 'none'} → {f.after or 'none'}"))
    if not c.personas:
        lines.append(("Personas", "unchanged"))
    for p in c.personas:
        if p.before_version is None or p.after_version is None:
            text = f"{p.name}: {'joined' if p.before_version is None else 'left'} the panel"
        elif p.fields is None:
            text = (f"{p.name}: file changed ({p.before_version} → {p.after_version}); which fields: unknown "
                    "(the earlier run predates per-field records)")
        elif not p.fields:
            text = f"{p.name}: file changed, formatting only"
        else:
            text = f"{p.name}: " + "; ".join(p.details.get(f, f) for f in p.fields)
        lines.append(("Persona", text))
    if not c.templates_changed:
        lines.append(("Prompts", "unchanged"))
    elif c.templates is None:
        lines.append(("Prompts", "changed; which templates: unknown (the earlier run predates per-template records)"))
    else:
        lines.append(("Prompts", "changed: " + ", ".join(c.templates)))
    if not c.models:
        lines.append(("Model", "unchanged"))
    if c.models and len({(m.before, m.after) for m in c.models}) == 1 and len(c.models) > 1:
        m = c.models[0]
        lines.append(("Model", f"{m.before} → {m.after} ({', '.join(x.name for x in c.models)})"))
    else:
        lines += [("Model", f"{m.name}: {m.before} → {m.after}") for m in c.models]
    for s in c.settings:
        if _is_endpoint(s):
            lines.append(("Settings", f"{s.field}: {describe_endpoint(s.before or 'none')} → "
                                      f"{describe_endpoint(s.after or 'none')}"))
        else:
            lines.append(("Settings", f"{s.field}: {s.before or 'none'} → {s.after or 'none'}"))
    if c.forced_identical:
        lines.append(("Re-review", "forced, identical inputs: any difference is provider variance"))
    elif c.identical_inputs:
        lines.append(("Re-review", "identical inputs: any difference is provider variance"))
    return lines


def markdown(c: Change) -> str:
    """The explanation as a Markdown block for Prefect artifacts (held verdicts, the review queue)."""

    lines = [f"### What changed since the last verdict ({md_escape(c.from_label)} → {md_escape(c.to_label)})", "",
             md_escape(summary(c)), ""]
    lines += [f"- **{label}**: {md_escape(text)}" for label, text in detail_lines(c)]
    return "\n".join(lines) + "\n"
