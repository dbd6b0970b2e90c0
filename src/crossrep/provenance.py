"""Which library code a workflow step runs, and a version of that code.

Snakemake reruns a job when its script changes, but the scripts are thin: the logic they
run lives in this package. Each rule therefore carries ``params: code=code_version(...)``,
a hash of its script and of every ``crossrep`` module the script imports, directly or
through other modules (found statically, lazy imports inside functions included). An edit
of ``attacks.py`` changes the version of the attack rules only; their downstream jobs
rerun because their inputs change. ``dvc.yaml`` lists the same files as each stage's deps.
"""
from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "crossrep"
PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(name: str, package_dir: Path) -> Path | None:
    """The file of module ``crossrep.a.b`` (a module or a package's ``__init__``), or None."""
    parts = name.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, package_dir: Path) -> set[str]:
    """Absolute names of the ``crossrep`` modules ``path`` imports (``from x import y`` also
    counts ``x.y``, which is kept only if it is a module)."""
    package = None   # the package a relative import starts from (None: outside crossrep)
    if path.is_relative_to(package_dir):
        package = list(path.relative_to(package_dir.parent).parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level and package is None:
                continue
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def imported_files(script: str | Path, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """``script`` and every ``crossrep`` file it imports, transitively (package ``__init__``
    files included: importing ``crossrep.steps.x`` runs them)."""
    return list(_closure(Path(script).resolve(), Path(package_dir).resolve()))


@cache
def _closure(script: Path, package_dir: Path) -> tuple[Path, ...]:
    seen, todo = {script}, [script]
    while todo:
        for name in _imports(todo.pop(), package_dir):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):       # parent packages run their __init__
                found = _module_file(".".join(parts[:depth]), package_dir)
                if found and found not in seen:
                    seen.add(found)
                    todo.append(found)
    return tuple(sorted(seen))


def code_version(script: str | Path, package_dir: Path = PACKAGE_DIR) -> str:
    """A short hash of the contents of :func:`imported_files` (names relative to the package)."""
    digest = hashlib.sha256()
    for path in imported_files(script, package_dir):
        name = path.relative_to(package_dir).as_posix() if path.is_relative_to(package_dir) else path.name
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
