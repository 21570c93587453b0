"""Finding card files: walk paths and directories; every path yields a card file or one CardError
(symbolic links out of the directory, FIFOs, devices, files with another suffix)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from toolpanel.ingest.cardyaml import CardError
from toolpanel.errors import quote

CARD_SUFFIXES = {".md", ".markdown", ".yaml", ".yml"}


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))
_DIR = "dir"


def special_kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def _classify(p: Path, root: Path | None) -> Path | CardError | str:
    """A card file to read, one rejection, or _DIR. Never opens anything (lstat/stat only)."""
    f = str(p)
    try:
        st = p.lstat()
    except FileNotFoundError:
        return CardError("no such file or directory", "check the path", file=f)
    except OSError as exc:
        return CardError(f"cannot be read ({exc.strerror or exc.__class__.__name__})", "check the path", file=f)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = p.resolve(strict=True)
        except RuntimeError:
            return CardError("is a symbolic link that loops back on itself", "point it at a card file, or delete it",
                             file=f)
        except FileNotFoundError:
            return CardError(f"is a symbolic link to {quote(os.readlink(p), 200)}, which does not exist",
                             "point it at an existing card, or delete it", file=f)
        except OSError as exc:
            return CardError(f"is a symbolic link that cannot be followed ({exc.strerror})",
                             "point it at a card file, or delete it", file=f)
        if root is not None and not target.is_relative_to(root):
            return CardError(f"is a symbolic link to {quote(str(target), 200)}, outside the card directory",
                             "copy the card into the directory instead of linking to it", file=f)
        try:
            st = target.stat()
        except OSError as exc:
            return CardError(f"cannot be read ({exc.strerror})", "check the path", file=f)
    if stat.S_ISDIR(st.st_mode):
        return _DIR
    kind = special_kind(st.st_mode)
    if kind:
        return CardError(f"is {kind}, not a card file", "remove it from the card directory: only regular files are read",
                         file=f)
    return p


def _walk(d: Path, root: Path, found: list[tuple[Path, Path | CardError]]) -> None:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as exc:
        found.append((d, CardError(f"cannot be listed ({exc.strerror})", "make the directory readable", file=str(d))))
        return
    for e in entries:
        p = Path(e.path)
        is_card = p.suffix.lower() in CARD_SUFFIXES
        try:
            real_dir = e.is_dir(follow_symlinks=False)
        except OSError:
            real_dir = False
        if real_dir and not is_card:
            _walk(p, root, found)
            continue
        if not is_card:
            continue  # not a card (a README, an image, a symlink to a folder): not read, not an error
        got = _classify(p, root)
        if got == _DIR:
            got = CardError("is a directory, not a card file",
                            "rename it: names ending in .md, .markdown, .yaml or .yml are read as cards", file=str(p))
        found.append((p, got))


def find_cards(paths: list[str | Path]) -> list[tuple[Path, Path | CardError]]:
    """Files and directories -> card files to read or one rejection each, in order (files deduplicated).

    A directory is walked without following symbolic links out of it: a link that stays inside is read,
    one that leaves, loops or dangles is one rejection; FIFOs, sockets and devices are never opened.
    """
    found: list[tuple[Path, Path | CardError]] = []
    for raw in paths:
        p = Path(raw)
        got = _classify(p, None)  # a path named on purpose may point anywhere
        if got == _DIR:
            below: list[tuple[Path, Path | CardError]] = []
            _walk(p, p.resolve(), below)
            found.extend(sorted(below, key=lambda x: x[0]))
        else:
            found.append((p, got))
    seen: set[Path] = set()
    unique = []
    for p, got in found:
        if isinstance(got, Path):
            key = got.resolve()
            if key in seen:
                continue
            seen.add(key)
        unique.append((p, got))
    return unique
