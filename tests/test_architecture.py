"""Which package may import which (docs/architecture.md): read from the source, not from a run, so an
import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: str) -> set[str]:
    """What ``source``, a module of ``package``, imports; for ``from X import y``, both X and X.y, since y
    may be a module (``from facechain import lab``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_imported_modules_resolves_relative_imports():
    names = imported_modules(ROOT / "facechain" / "portrait" / "generation" / "generate.py")
    assert {"facechain.portrait.model_folder", "facechain.atomic", "pipelines.schedulers"} <= names
    assert "facechain.lab" in imports_of("from .. import lab\n", "facechain.mapping")  # a module named in a from-import
    assert "facechain.lab.dal" in imports_of("def f():\n    from ..lab import dal\n", "facechain.portrait")


@pytest.mark.parametrize("folder", ["pipelines", "models", "sude"])
def test_building_blocks_import_nothing_of_facechain(folder):
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "facechain"
        )
        for path in sources(folder)
    }
    assert not {path: names for path, names in offenders.items() if names}


def test_product_code_does_not_import_the_lab():
    """The lab builds on product modules (diversity, mapping, the quality head), never the reverse;
    only the lab itself, its CLI command and its tab import it."""
    allowed = ("facechain/lab/", "facechain/cli/lab.py", "facechain/ui/lab.py")
    offenders = {
        str(path.relative_to(ROOT))
        for path in sources("facechain", "pipelines", "models", "sude")
        if not str(path.relative_to(ROOT)).startswith(allowed)
        and any(name.startswith("facechain.lab") for name in imported_modules(path))
    }
    assert not offenders


def test_front_ends_are_not_imported_by_what_they_call():
    """The CLI and the app are thin layers over the API: nothing below them imports them."""
    offenders = {
        str(path.relative_to(ROOT))
        for path in sources("facechain", "pipelines", "models", "sude")
        if not str(path.relative_to(ROOT)).startswith(("facechain/cli/", "facechain/ui/"))
        and any(name.startswith(("facechain.cli", "facechain.ui")) for name in imported_modules(path))
    }
    assert not offenders
