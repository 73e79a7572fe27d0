"""Reading YAML files with errors that name the file, the line and the column."""
from __future__ import annotations

from pathlib import Path

import yaml


def read_yaml(path: Path, error: type[Exception], what: str):
    """Parse `path`; a missing file or malformed YAML raises `error` naming the file (and the line, column)."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: no such {what}")
    try:
        return yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{p}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
