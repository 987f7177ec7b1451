"""The package's shape: errors at the bottom, and no import circle between its modules."""
import ast
import subprocess
import sys
from pathlib import Path

import draw_np

PACKAGE = Path(draw_np.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set:
    """The draw_np modules a module imports when it is itself imported (imports inside
    functions are lazy, and cannot make a circle at import time)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("draw_np"):
                found.add(target)
                for alias in node.names:  # `from . import backend` imports a module
                    candidate = f"{target}.{alias.name}"
                    if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                        found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("draw_np")}
    return found - {name}


def test_importing_the_errors_module_loads_no_other_module_of_the_package():
    out = subprocess.run([sys.executable, "-c", "import sys, draw_np.errors; print(sorted("
                          "m for m in sys.modules if m.startswith('draw_np')))"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['draw_np', 'draw_np.errors']"


def test_no_import_circle():
    graph = {module_name(p): top_level_imports(p) for p in PACKAGE.rglob("*.py")}
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in graph.get(node, ()):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(path + [target]))
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
