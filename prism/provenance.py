"""What produced a result: the identity of the code a stage runs, and the checkout's state.

A stage's code is the package modules it runs: its entry modules and every ``prism`` module
they import, anywhere in their source (at module level or inside a function), followed to
the end. Each module counts by its normalised source: parsed, docstrings removed, written
back out (:func:`source_digest`), so a comment, a docstring or a reformatting leaves the
identity unchanged while any change to what the code does changes it. Dispatch modules (the
command line, which imports every stage to pick one) are hashed but not followed, and the
solver registry finds its modules at run time, so a stage's identity holds only the solver
it runs. Hashing the modules a stage can execute, rather than the whole package or its
version, is what lets a change to one solver rerun that solver's results and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Paths (git glob pathspecs) whose changes cannot change a result: documentation, tests, git's
# ignore lists and DVC's record of the outputs (the last two written by `dvc repro`). Every
# other file of the checkout can.
NOT_RESULT_PATHS = ("docs/**", "tests/**", "**/*.md", "**/.gitignore", "dvc.lock")


def config_hash(config: dict) -> str:
    """SHA-256 of the canonical JSON of a config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def git_state(root: str | os.PathLike = ".") -> dict[str, str]:
    """The git commit, and whether the checkout differs from it where a result can change.

    ``git.dirty`` is ``"true"`` when a file outside :data:`NOT_RESULT_PATHS` is modified,
    staged, deleted or untracked (and not ignored): a new solver module that is not yet added
    to git makes the commit unable to reproduce the run. ``"unknown"`` outside a checkout.
    """

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(done.stderr)
        return done.stdout.strip()

    excluded = [f":(exclude,glob){path}" for path in NOT_RESULT_PATHS]
    try:
        commit = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--untracked-files=all", "--", ".", *excluded)
    except OSError:
        return {"git.commit": "unknown", "git.dirty": "unknown"}
    return {"git.commit": commit, "git.dirty": "true" if changes else "false"}


def source_digest(source: str) -> str:
    """SHA-256 of Python source without its comments, docstrings and formatting.

    The source is parsed, every docstring (module, class, function) is dropped and the tree
    is written back out with :func:`ast.unparse`; the normal form is that of the running
    Python's minor version.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()


def package_modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package at ``root`` by dotted name (``prism.core.grid``)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_modules(path: Path, known: Iterable[str]) -> set[str]:
    """The modules among ``known`` that a file imports anywhere (absolute imports only).

    ``from a.b import c`` counts ``a.b``, and ``a.b.c`` when that is a module.
    """
    known = set(known)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def code_closure(
    entries: Iterable[str], *, leaves: Iterable[str] = (), root: Path = PACKAGE
) -> list[str]:
    """The modules that ``entries`` run: themselves and every module they import, in turn.

    A module's packages (their ``__init__``) count as imported by it, as Python runs them.

    Parameters
    ----------
    entries : iterable of str
        Dotted module names whose imports are followed.
    leaves : iterable of str
        Modules included but whose imports are not followed (dispatchers).
    root : Path
        The package folder.

    Raises
    ------
    ValueError
        When a name is not a module of the package.
    """
    modules = package_modules(root)
    leaves = set(leaves)
    unknown = sorted((set(entries) | leaves) - set(modules))
    if unknown:
        raise ValueError(f"not modules of {root.name}: {', '.join(unknown)}")
    found, todo = set(leaves), [name for name in entries if name not in leaves]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            parents = {name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1)}
            imports = imported_modules(modules[name], modules) | (parents & set(modules))
            todo += sorted(imports - found - leaves)
    return sorted(found)


def code_identity(
    entries: Iterable[str], *, leaves: Iterable[str] = (), root: Path = PACKAGE
) -> str:
    """SHA-256 over the normalised sources of :func:`code_closure` (names and digests)."""
    modules = package_modules(root)
    lines = [
        f"{name} {source_digest(modules[name].read_text(encoding='utf-8'))}"
        for name in code_closure(entries, leaves=leaves, root=root)
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
