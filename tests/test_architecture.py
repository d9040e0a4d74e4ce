"""The shape of the code: a face that alone talks to the terminal, arrows that point one way."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "mlpx"
FACE = "mlpx.cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """Every mlpx module ``name`` imports: at the top, inside functions or for type checking."""
    found = set()
    is_package = MODULES[name].name == "__init__.py"
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*package, base] if base else package)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            # importing a module runs its packages' __init__ too: arrows to those, except to
            # the packages ``name`` itself lies in (they have run before it)
            while target and target != "mlpx":
                if not name.startswith(target + ".") and target != name:
                    found.add(target)
                target = target.rpartition(".")[0]
    return found


def cycles() -> list[set[str]]:
    """The strongly connected components (of two or more modules) of the import graph."""
    graph = {name: imports(name) for name in MODULES}
    reach = {name: set() for name in graph}
    for start in graph:
        stack = list(graph[start])
        while stack:
            node = stack.pop()
            if node not in reach[start]:
                reach[start].add(node)
                stack.extend(graph[node])
    components = {frozenset({a} | {b for b in reach[a] if a in reach[b]}) for a in graph}
    return [set(c) for c in components if len(c) > 1]


def test_no_import_circle_anywhere_in_the_package():
    assert cycles() == []


def test_the_circle_check_sees_lazy_type_checking_and_package_imports(monkeypatch):
    fake = {
        "mlpx.a": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mlpx.b.c\n",
        "mlpx.b": "",
        "mlpx.b.c": "def f():\n    from mlpx.d import x\n",
        "mlpx.d": "import mlpx.a\n",
    }
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: fake[str(self)])
    monkeypatch.setattr(
        "test_architecture.MODULES",
        {name: Path(name) for name in fake} | {"mlpx": Path("mlpx")},
    )
    fake["mlpx"] = ""
    assert cycles() == [{"mlpx.a", "mlpx.b.c", "mlpx.d"}]
    fake["mlpx.b"], fake["mlpx.d"] = "import mlpx.a\n", ""  # a package's __init__ closes it
    assert cycles() == [{"mlpx.a", "mlpx.b"}]


def test_the_plots_and_the_engine_never_import_the_face_and_plots_never_the_engine():
    for name in MODULES:
        if not name.startswith(FACE) and name != "mlpx.__main__":
            assert not {m for m in imports(name) if m.startswith(FACE)}, name
    assert not {m for m in imports("mlpx.plots") if m.startswith("mlpx.groups")}


def test_only_the_face_imports_rich_or_typer_or_prints():
    for name, path in MODULES.items():
        if name.startswith(FACE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            assert not roots & {"rich", "typer"}, name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{name}:{node.lineno}"
