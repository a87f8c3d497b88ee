"""No module of minivdt/ imports itself back through others. Every module is parsed with `ast` (nothing is run):
its imports at module level and inside functions, relative ones and absolute `minivdt.` ones, each resolved to the
most specific module of the package it names (`from .a import b` is the module a.b when a/b.py exists, else a)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "minivdt"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package's modules it imports}."""
    modules = {module_name(path, package): path for path in package.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the module's package, one level up per extra dot
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets |= {f"{base}.{alias.name}" for alias in node.names}  # a submodule, or a name in base
        graph[name] = set()
        for target in targets:
            while target and target not in modules:  # a name inside a module: that module
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None."""
    state, stack = {}, []  # state: 1 = on the current path, 2 = done

    def visit(node):
        state[node], stack[len(stack):] = 1, [node]
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return stack[stack.index(child):] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_minivdt_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """Module-level and function-level, relative and absolute imports all make edges; a cycle is named."""
    package = tmp_path / "minivdt"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import thing\n")
    (package / "a.py").write_text("import numpy\n\ndef f():\n    from minivdt.sub import b\n")
    (package / "sub" / "b.py").write_text("from .. import c\nthing = 1\n")
    (package / "c.py").write_text("def g():\n    import minivdt.a\n")
    graph = import_graph(package)
    assert graph == {"minivdt": set(), "minivdt.sub": {"minivdt.sub.b"}, "minivdt.a": {"minivdt.sub.b"},
                     "minivdt.sub.b": {"minivdt.c"}, "minivdt.c": {"minivdt.a"}}
    assert find_cycle(graph) == ["minivdt.a", "minivdt.sub.b", "minivdt.c", "minivdt.a"]
    (package / "c.py").write_text("")
    assert find_cycle(import_graph(package)) is None
