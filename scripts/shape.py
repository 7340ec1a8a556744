"""The shape of the code: modules over 500 lines and functions over 60, and the size of each package.

    python scripts/shape.py            # bot/, skills/, adapters/ of this checkout
    python scripts/shape.py --root DIR # another checkout

A function's length runs from its ``def`` line to its last line (decorators not counted; a nested
function counts inside its parent and on its own). A function may be longer when it says why: a
comment starting with ``# long:`` on its ``def`` line or on the line just above it (above its
decorators, when it has some). Modules have no such escape. The Alembic revisions in
``bot/db/migrations/`` are left out: an ``upgrade()`` that spells out a feature's tables is long
by nature and is never edited once released.

Prints every offender, then one line per package (modules, lines, functions, the longest
function), and exits 1 when a module is too long or a function too long without a reason.
Standard library only (``ast``), so it runs anywhere the code does.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("bot", "skills", "adapters")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
REASON = "# long:"


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    line: int
    length: int
    reason: str | None


@dataclass
class Package:
    name: str
    modules: int = 0
    lines: int = 0
    functions: int = 0
    longest: Function | None = None


@dataclass
class Shape:
    long_modules: list[tuple[str, int]] = field(default_factory=list)
    long_functions: list[Function] = field(default_factory=list)
    packages: dict[str, Package] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return bool(self.long_modules) or any(f.reason is None for f in self.long_functions)


def reason_of(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str | None:
    """The text after ``# long:`` on the def line or the line above the function (or its decorators)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    candidates = [lines[node.lineno - 1]]
    if first >= 2:
        candidates.append(lines[first - 2])
    for text in candidates:
        at = text.find(REASON)
        if at >= 0:
            return text[at + len(REASON):].strip() or None
    return None


def functions_of(path: Path, shown: str) -> tuple[int, list[Function]]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, filename=shown)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            found.append(Function(shown, node.name, node.lineno, length, reason_of(node, lines)))
    return len(lines), found


def package_of(relative: Path) -> str:
    """``skills/coffee/rounds.py`` -> ``skills/coffee``; ``skills/help.py`` -> ``skills``."""
    parts = relative.parts
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def measure(root: Path) -> Shape:
    shape = Shape()
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:
                continue  # generated Alembic revisions, not code anyone shapes
            shown = relative.as_posix()
            count, functions = functions_of(path, shown)
            package = shape.packages.setdefault(package_of(relative), Package(package_of(relative)))
            package.modules += 1
            package.lines += count
            package.functions += len(functions)
            for function in functions:
                if package.longest is None or function.length > package.longest.length:
                    package.longest = function
                if function.length > MAX_FUNCTION_LINES:
                    shape.long_functions.append(function)
            if count > MAX_MODULE_LINES:
                shape.long_modules.append((shown, count))
    return shape


def report(shape: Shape) -> list[str]:
    out = [f"Modules over {MAX_MODULE_LINES} lines: {len(shape.long_modules)}"]
    out += [f"  {path}  {count} lines" for path, count in shape.long_modules]
    out.append(f"Functions over {MAX_FUNCTION_LINES} lines: {len(shape.long_functions)}")
    for f in shape.long_functions:
        why = f"kept: {f.reason}" if f.reason else "NO REASON GIVEN (add '# long: why' above the def)"
        out.append(f"  {f.path}:{f.line} {f.name}  {f.length} lines  — {why}")
    out.append("")
    out.append(f"{'package':<20} {'modules':>7} {'lines':>7} {'functions':>9}  longest function")
    for package in sorted(shape.packages.values(), key=lambda p: p.name):
        longest = package.longest
        where = f"{longest.name} ({longest.length}, {longest.path})" if longest else "-"
        out.append(f"{package.name:<20} {package.modules:>7} {package.lines:>7} {package.functions:>9}  {where}")
    total_modules = sum(p.modules for p in shape.packages.values())
    total_lines = sum(p.lines for p in shape.packages.values())
    out.append(f"{'total':<20} {total_modules:>7} {total_lines:>7}")
    out.append("(bot/db/migrations, Alembic revisions that spell out tables, is not measured)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    shape = measure(args.root)
    print("\n".join(report(shape)))
    return 1 if shape.failing else 0


if __name__ == "__main__":
    sys.exit(main())
