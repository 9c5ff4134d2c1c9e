#!/usr/bin/env python3
"""The module graph of a Rust crate's source tree: fails on an import cycle among its files, on a
file with more lines of code than the limit, and on a layer that imports one above it.

Usage: check_modules.py [SRC_DIR] [--max-lines N] [--graph]

Nodes are the files of SRC_DIR (lib.rs is the crate root, foo.rs and foo/mod.rs are `foo`). An edge
A -> B is a path in A (`use crate::…`, `super::…`, or an inline `crate::…::item`) that names an item
B defines; a path through a folder's mod.rs that only re-exports is followed to the file that
defines the item. Test code is left out: `#[cfg(test)]` items and `*_tests.rs` files (a test module
may use anything). Lines of code: not blank, not only a comment, outside test code.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

# Each layer may use only itself and the layers before it in this list (a module's first segment
# under the crate root; lib.rs and anything unlisted are not held to it).
LAYERS = [
    ["crypto"],
    ["domain"],
    ["abuse", "delivery_events", "messages", "metrics", "ports", "profiles", "proof", "settings", "totp"],
    ["usecases"],
    ["adapters", "config", "delivery_handler", "http", "runtime", "logging", "routes"],
]

DEFINITION = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:async\s+)?"
    r"(?:struct|enum|trait|type|fn|const|static|mod|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)


def strip_comments_and_strings(text):
    """The source with comments and the contents of string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1:j]) + '"')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and text.startswith("'\\u{", i)):
            j = text.find("'", i + 1)
            out.append(" " * (j + 1 - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_test_code(text):
    """Blanks every item under `#[cfg(test)]` (a module, a function, a `mod x;` line)."""
    out = list(text)
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        j = m.end()
        # The item: up to its `;` or its balanced `{…}`.
        k = j
        while k < len(text) and text[k] not in "{;":
            k += 1
        if k < len(text) and text[k] == "{":
            depth = 0
            while k < len(text):
                if text[k] == "{":
                    depth += 1
                elif text[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
        for p in range(m.start(), min(k + 1, len(text))):
            if out[p] != "\n":
                out[p] = " "
    return "".join(out)


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path (tuple) -> file path
        self.code = {}  # module path -> cleaned source
        for root, _, names in os.walk(src):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(root, name)
                rel = os.path.relpath(path, src)[:-3].split(os.sep)
                if rel[-1] in ("mod", "lib", "main") and (rel[-1] != "lib" or len(rel) == 1):
                    rel = rel[:-1]
                module = tuple(rel)
                if module and module[-1].endswith("_tests"):
                    continue
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                self.files[module] = path
                self.code[module] = strip_test_code(strip_comments_and_strings(text))
        self.defines = {m: set(DEFINITION.findall(code)) for m, code in self.code.items()}

    def subtree(self, module):
        return [m for m in self.files if m[: len(module)] == module]

    def owner(self, module, item):
        """The file that defines `item` reached as `module::item`: the module itself if it defines
        it, else the one file below it that does (a re-export), else the module."""
        if item in self.defines.get(module, ()) or item is None:
            return module
        definers = [m for m in self.subtree(module) if m != module and item in self.defines[m]]
        return definers[0] if len(definers) == 1 else module

    def resolve(self, here, segments):
        """The file a path names, from module `here`; None outside the crate."""
        if not segments:
            return None
        if segments[0] == "crate":
            base, rest = (), segments[1:]
        elif segments[0] == "super":
            base, rest = here, segments
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif segments[0] == "self":
            base, rest = here, segments[1:]
        elif here + (segments[0],) in self.files:
            base, rest = here, segments
        else:
            return None
        module = base
        while rest and module + (rest[0],) in self.files:
            module, rest = module + (rest[0],), rest[1:]
        return self.owner(module, rest[0] if rest else None)

    def edges(self):
        graph = defaultdict(set)
        for here, code in self.code.items():
            paths = []
            for m in re.finditer(r"\buse\s+([^;]+);", code):
                paths.extend(expand_use(m.group(1)))
            # Inline paths, outside the `use` items already read.
            inline = re.sub(r"\buse\s+[^;]+;", "", code)
            paths.extend(
                p.split("::")
                for p in re.findall(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+", inline)
            )
            for segments in paths:
                target = self.resolve(here, [s for s in segments if s])
                if target is not None and target != here and target in self.files:
                    # A module's own children are below it, not above: a parent naming its child is
                    # an edge like any other.
                    graph[here].add(target)
        return graph


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [[a, b], [a, c, d], [a, c, e]]; `self` and globs name the module."""
    tree = re.sub(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*", "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:i])
                start = i + 1
        parts.append(s[start:])
        return [p for p in parts if p]

    def walk(prefix, s):
        if "{" in s and s.endswith("}"):
            head, body = s[: s.index("{")], s[s.index("{") + 1 : -1]
            head = [h for h in head.split("::") if h]
            result = []
            for part in split_top(body):
                result.extend(walk(prefix + head, part))
            return result
        segs = [x for x in s.split("::") if x]
        if segs and segs[-1] in ("self", "*"):
            segs = segs[:-1]
        return [prefix + segs]

    return walk([], tree)


def cycles(graph, nodes):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph, component):
    """A shortest cycle through the component's first file, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def name(module):
    return "::".join(("crate",) + module)


def layer_of(module):
    for i, layer in enumerate(LAYERS):
        if module and module[0] in layer:
            return i
    return None


def lines_of_code(crate, module):
    return sum(1 for line in crate.code[module].splitlines() if line.strip())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("src", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "shared", "src"))
    parser.add_argument("--max-lines", type=int, default=None)
    parser.add_argument("--graph", action="store_true", help="print every edge")
    args = parser.parse_args()
    crate = Crate(args.src)
    graph = crate.edges()
    failures = []
    if args.graph:
        for v in sorted(graph):
            for w in sorted(graph[v]):
                print(f"{name(v)} -> {name(w)}")
    for component in cycles(graph, crate.files):
        failures.append(
            "import cycle: " + " -> ".join(name(m) for m in one_cycle(graph, component))
            + f" (all of {', '.join(name(m) for m in component)})"
        )
    for v, targets in sorted(graph.items()):
        for w in sorted(targets):
            lv, lw = layer_of(v), layer_of(w)
            if lv is not None and lw is not None and lw > lv:
                failures.append(f"layering: {name(v)} (layer {lv}) uses {name(w)} (layer {lw})")
    if args.max_lines:
        for module in sorted(crate.files):
            count = lines_of_code(crate, module)
            if count > args.max_lines:
                failures.append(f"{os.path.relpath(crate.files[module])}: {count} lines of code (at most {args.max_lines})")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        sys.exit(1)
    edges = sum(len(t) for t in graph.values())
    print(f"{len(crate.files)} modules, {edges} imports between them: no cycle, layers in order"
          + (f", none over {args.max_lines} lines of code" if args.max_lines else ""))


if __name__ == "__main__":
    main()
