"""The shape of the code, read from its syntax trees so it stays true: a leaf model, a pure
core, SQL only in the store, connectors reached only through the registry, short functions."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = sorted([*ROOT.glob("daemon/*.py"), *ROOT.glob("connectors/*.py")])
LEAVES = {"daemon.model", "daemon.errors"}
# the pure core: data in, data out; no I/O, no store, no connector
PURE = {"daemon.inference", "daemon.cadence", "daemon.planner", "daemon.reminders",
        "daemon.durations", "daemon.words", "daemon.replytimes", "daemon.followups",
        "daemon.birthdays", "daemon.grouping", "daemon.promises", "daemon.when",
        "daemon.promisetext", "daemon.timephrase", "daemon.slots", "daemon.digest"}
PURE |= {"daemon.rhythm"}  # issue 16: the learned rhythm and the strength
PURE |= {"daemon.thanks", "daemon.noteview"}  # issue 17: thank-you reminders, notes shown
PURE |= {"daemon.export", "daemon.exportread"}  # issue 17: export and import
SQL_HOMES = {"daemon.store", "daemon.schema", "daemon.sqlbase", "daemon.contactstore",
             "daemon.cardstore",
             "daemon.reminderstore", "daemon.promisestore", "daemon.notestore"}
LONGEST_FUNCTION = 60


def name(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of its code (lazy imports count)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in ("daemon", "connectors"):  # from daemon import cadence
                yield from (f"{node.module}.{alias.name}" for alias in node.names)
            else:
                yield node.module


def ours(module: str) -> bool:
    return module.split(".")[0] in ("daemon", "connectors")


def test_the_tree_is_what_this_test_reads() -> None:
    names = {name(p) for p in PRODUCT}
    assert names >= LEAVES | PURE | SQL_HOMES
    assert len(PRODUCT) > 40


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_the_model_and_the_errors_are_leaves(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    assert [m for m in imports(path)
            if ours(m) or m.split(".")[0] not in sys.stdlib_module_names] == []


@pytest.mark.parametrize("module", sorted(PURE))
def test_the_pure_core_imports_only_itself_the_model_the_errors_and_the_stdlib(
        module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    wrong = [m for m in imports(path)
             if m not in LEAVES | PURE and m.split(".")[0] not in sys.stdlib_module_names]
    assert wrong == []
    assert not {"sqlite3", "socket", "subprocess", "os", "io"} & {
        m.split(".")[0] for m in imports(path)}


def test_only_the_store_and_its_schema_speak_sql() -> None:
    """No other module imports sqlite3 or calls execute/executemany/executescript with
    a statement (the Google client's argument-less ``request.execute()`` is not SQL)."""
    offenders = []
    for path in PRODUCT:
        if name(path) in SQL_HOMES:
            continue
        if "sqlite3" in set(imports(path)):
            offenders.append(f"{name(path)} imports sqlite3")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "executemany", "executescript")
                    and node.args):
                offenders.append(f"{name(path)}:{node.lineno} calls {node.func.attr}")
    assert offenders == []


def test_the_store_runs_no_rule_of_its_own() -> None:
    for module in SQL_HOMES:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert not {m for m in imports(path) if ours(m)} - SQL_HOMES - {
            "daemon.model", "daemon.errors"}, module


def test_the_core_reaches_connectors_only_through_the_registry() -> None:
    """The core may name the interface (base) and the shared atomic writer, never a
    connector module: those are found by type name through connectors.registry."""
    allowed = {"connectors.registry", "connectors.base", "connectors.atomic"}
    wrong = {f"{name(p)} -> {m}" for p in PRODUCT if p.parent.name == "daemon"
             for m in imports(p) if m.startswith("connectors") and m not in allowed}
    assert wrong == set()


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = []
    for path in PRODUCT:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    long.append(f"{name(path)}.{node.name}: {lines} lines")
    assert long == []


def test_no_module_shadows_the_standard_library() -> None:
    """``connectors/secrets.py`` once hid the standard ``secrets`` from any module that
    imported it relatively, or ran with connectors/ on the path."""
    assert [name(p) for p in PRODUCT if p.stem in sys.stdlib_module_names] == []
