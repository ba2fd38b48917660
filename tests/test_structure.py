"""The package's shape: no import cycles among gradcam_core modules, and gradio only in the UI.

Read from the source with ``ast`` (every import, also those inside functions), so a cycle hidden
behind a lazy import counts too."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "gradcam_core"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from . import x`` counts as importing x)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import render` imports render
    return out


def _graph() -> dict[str, set[str]]:
    """module → the gradcam_core modules it imports (a package's own __init__ left out: it is
    run before any of its modules, so it is no edge of a cycle one can fix)."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    packages = {m for m, p in files.items() if p.name == "__init__.py"}
    return {name: {m for m in _imports(path) if m in files and m != name and m not in packages}
            for name, path in files.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_modules():
    mods = _imports(PKG / "ui" / "trust.py")
    assert "gradcam_core.analysis.sanity" in mods and "gradcam_core.ui.common" in mods


def test_no_import_cycles_among_gradcam_core_modules():
    assert _cycles(_graph()) == []


def _layer_of(module: str) -> str:
    """The package a module belongs to (``gradcam_core.present.words`` → ``present``,
    ``gradcam_core.base.inputs`` → ``base``); the root package's ``__init__`` and its top-level
    modules (``cli``, ``workshop``) are one layer, ``gradcam_core``, as importing any of them runs
    the root ``__init__``."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PKG / parts[1]).is_dir()):
        return parts[1]
    return "gradcam_core"


def _package_graph(graph: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """The module graph collapsed to packages (``cam``, ``models``, ``data``, ``analysis``, ``rooms``,
    ``services``, ``present``, ``ui``) and top-level modules (``inputs``, ``errors``, ``cli``, ...):
    an edge A → B when any module of A imports any module of B (lazy imports included)."""
    graph = _graph() if graph is None else graph
    out: dict[str, set[str]] = {}
    for mod, deps in graph.items():
        # A ``__main__`` module is an entry point that nothing imports (``python -m
        # gradcam_core.models``): it sits on top of everything like the CLI, so its imports
        # (``present.words`` to word its output) are no edge of its package's layer.
        if mod.endswith(".__main__"):
            continue
        out.setdefault(_layer_of(mod), set()).update(_layer_of(d) for d in deps)
    for layer, deps in out.items():
        deps.discard(layer)
    for deps in list(out.values()):
        for d in deps:
            out.setdefault(d, set())
    return out


def test_the_package_graph_collapses_modules_to_their_package():
    graph = {"gradcam_core.present.words": set(), "gradcam_core.present.verdicts": {"gradcam_core.analysis.sanity",
                                                                                    "gradcam_core.present.words"},
             "gradcam_core.analysis.sanity": {"gradcam_core.cam.engine", "gradcam_core.base.errors"},
             "gradcam_core.cam.engine": set(), "gradcam_core.base.errors": set()}
    assert _package_graph(graph) == {"present": {"analysis"}, "analysis": {"cam", "base"}, "cam": set(),
                                     "base": set()}
    # two packages that import each other through different modules are a cycle at package level
    # even though no module cycle exists
    graph["gradcam_core.analysis.cards"] = {"gradcam_core.present.words"}
    assert _cycles(graph) == [] and _cycles(_package_graph(graph)) == [["analysis", "present"]]


def test_no_module_imports_a_main_module():
    """What lets the package graph leave ``__main__`` modules out: nothing imports them."""
    graph = _graph()
    mains = {m for m in graph if m.endswith(".__main__")}
    assert "gradcam_core.__main__" in mains
    assert not [m for m, deps in graph.items() if deps & mains and not m.startswith("tests")]


def test_no_import_cycles_among_packages():
    """The layers (base, cam → models, data → analysis → rooms → services → present → ui, the root's cli
    and workshop, app) only import downwards, so no two packages import each other, not even
    through different modules or through the root package."""
    assert _cycles(_package_graph()) == []


def test_analysis_imports_no_words_and_no_page():
    """analysis returns numbers and codes: it imports neither present (pictures and words) nor ui."""
    pkg = _package_graph()
    assert "analysis" in pkg and not pkg["analysis"] & {"present", "ui", "services", "cli"}, pkg["analysis"]
    # only the layers below it (base: errors, home and the input parsers, importing nothing above)
    assert pkg["analysis"] <= {"base", "cam", "models", "data"}, pkg["analysis"]


def test_rooms_import_only_the_base():
    """The rooms' store (``rooms/``) sits between analysis and services: it keeps codes, numbers and
    bytes, and imports nothing of the package but ``base`` (refusals), so any layer above may use it
    and it never pulls in models, the engine or words."""
    pkg = _package_graph()
    assert "rooms" in pkg and pkg["rooms"] <= {"base"}, pkg["rooms"]
    # and nothing below the services uses it: the layers under it know nothing of rooms
    below = {"base", "cam", "models", "data", "analysis"}
    assert not [layer for layer in below if "rooms" in pkg.get(layer, set())]


def test_only_the_ui_and_app_import_gradio():
    offenders = []
    for path in [*ROOT.glob("*.py"), *PKG.rglob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "app.py" or rel.startswith("gradcam_core/ui/"):
            continue
        if any(m == "gradio" or m.startswith("gradio.") for m in _imports(path)):
            offenders.append(rel)
    assert offenders == []


# --------------------------------------------------------------------------- the UI and the CLI call services
#: what the tabs, panels and the command line may not import: they call services/ and present/
FORBIDDEN_BELOW_UI = ("gradcam_core.cam", "gradcam_core.models", "gradcam_core.data")


def _forbidden(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if any(m == p or m.startswith(p + ".") for p in FORBIDDEN_BELOW_UI))


def test_ui_and_cli_import_no_cam_models_or_data():
    """No module of ``ui/`` and not ``cli.py`` imports the engine, the models or the data, lazily or
    not (``_imports`` reads every import statement, also those inside functions)."""
    found = {}
    for path in [*(PKG / "ui").glob("*.py"), PKG / "cli.py"]:
        bad = _forbidden(_imports(path))
        if bad:
            found[path.relative_to(ROOT).as_posix()] = bad
    assert found == {}


def test_the_forbidden_import_check_sees_lazy_and_package_imports(tmp_path):
    """The check above is not empty: a lazy ``from gradcam_core.cam.engine import …``, a
    ``from gradcam_core import models`` and a relative ``from ..data import mnist`` are all caught."""
    ui = tmp_path / "gradcam_core" / "ui"
    ui.mkdir(parents=True)
    (tmp_path / "gradcam_core" / "__init__.py").write_text("")
    (ui / "__init__.py").write_text("")
    probe = ui / "probe.py"
    probe.write_text("def f():\n    from gradcam_core.cam.engine import GradCAM\n"
                     "from gradcam_core import models\nfrom ..data import mnist\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        mods = _imports(probe)
    finally:
        ROOT = saved
    assert {"gradcam_core.cam.engine", "gradcam_core.data.mnist"} <= set(_forbidden(mods))
    assert any(m.startswith("gradcam_core.models") for m in _forbidden(mods))


def _untyped_public_functions() -> list[str]:
    """Public functions and methods of public classes whose parameters or return lack a type hint."""
    out = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def check(fn: ast.FunctionDef) -> None:
            if fn.name.startswith("_") and fn.name not in ("__init__", "__call__"):
                return
            args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
            if args and args[0].arg in ("self", "cls"):
                args = args[1:]
            missing = [a.arg for a in args if a.annotation is None]
            missing += [f"*{a.arg}" for a in (fn.args.vararg, fn.args.kwarg) if a is not None and a.annotation is None]
            if fn.returns is None and fn.name != "__init__":
                missing.append("return")
            if missing:
                out.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name} {missing}")

        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                check(node)
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        check(sub)
    return out


def test_every_public_function_is_typed():
    assert not _untyped_public_functions()


def test_the_hint_check_finds_a_missing_hint(tmp_path, monkeypatch):
    """The check above is no formality: a package with one untyped public function fails it."""
    pkg = tmp_path / "gradcam_core"
    pkg.mkdir()
    (pkg / "m.py").write_text("def typed(x: int) -> int:\n    return x\n\ndef loose(x, y: int = 0):\n    return x\n\n"
                              "def _private(x):\n    return x\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "PKG", pkg)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    found = _untyped_public_functions()
    assert len(found) == 1 and "loose ['x', 'return']" in found[0]
