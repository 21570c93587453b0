"""The incremental writer: pages whose inputs changed are written (atomically), the rest skipped; input
hashes are kept in a manifest, and pages no longer produced are removed."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST = ".manifest.json"


@dataclass
class Report:
    pages: int = 0
    written: int = 0
    skipped: int = 0
    removed: int = 0
    site: str = ""
    warnings: list[str] | None = None

    def as_dict(self) -> dict:
        return {"pages": self.pages, "written": self.written, "skipped": self.skipped, "removed": self.removed,
                "site": self.site, "warnings": self.warnings or [], "base_url": ""}


class Writer:
    """Writes pages whose inputs changed; remembers input hashes in a manifest."""

    def __init__(self, out: Path, full: bool):
        self.out = out
        self.full = full
        self.old: dict[str, str] = {}
        path = out / MANIFEST
        if path.is_file() and not full:
            try:
                self.old = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.old = {}
            if not isinstance(self.old, dict):  # not a manifest of ours: every page is written again
                self.old = {}
        self.new: dict[str, str] = {}
        self._needs: dict[str, bool] = {}  # asked before the page itself (to load only what is rendered)
        self.report = Report(site=str(out))
        root = str(out)
        self.existing = {(d[len(root) + 1:] + "/" + f) if d != root else f for d, _, files in os.walk(root) for f in files}

    def _fp(self, rel: str, fingerprint: object) -> str:
        if isinstance(fingerprint, str):  # already a digest of the page's inputs
            self.new[rel] = fingerprint
            return fingerprint
        fp = self.new.get(rel)
        if fp is None:
            # repr of nested lists/tuples of str/int/None is deterministic and much cheaper than JSON
            fp = self.new[rel] = hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]
        return fp

    def needs(self, rel: str, fingerprint: object) -> bool:
        known = self._needs.get(rel)
        if known is None:
            fp = self._fp(rel, fingerprint)  # always recorded: the manifest must hold every page
            known = self._needs[rel] = self.full or self.old.get(rel) != fp or rel not in self.existing
        return known

    def page(self, rel: str, fingerprint: object | None, render) -> None:
        """`fingerprint` None: render and compare bytes (aggregate pages); otherwise skip on equal inputs."""
        self.report.pages += 1
        if fingerprint is not None:
            if not self.needs(rel, fingerprint):
                self.report.skipped += 1
                return
        data = render()
        data = data.encode("utf-8") if isinstance(data, str) else data
        if fingerprint is None:
            self.new[rel] = hashlib.sha256(data).hexdigest()[:16]
            if not self.full and rel in self.existing and self.old.get(rel) == self.new[rel]:
                self.report.skipped += 1
                return
        target = self.out / rel  # only for pages written: 20k Path joins cost a tenth of a republish
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        self.report.written += 1

    def finish(self) -> Report:
        for rel in sorted(set(self.old) - set(self.new)):
            (self.out / rel).unlink(missing_ok=True)
            self.report.removed += 1
        # compact: with `indent` json falls back to its pure-Python encoder (a tenth of a republish)
        (self.out / MANIFEST).write_text(json.dumps(self.new, sort_keys=True, separators=(",", ":")), encoding="utf-8")
        return self.report
