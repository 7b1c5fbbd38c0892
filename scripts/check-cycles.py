#!/usr/bin/env python3
"""Fails on an import cycle between the modules of a Rust crate.

usage: scripts/check-cycles.py CRATE_SRC_DIR...   (exit 1 and list the cycles)

Two levels are checked:
- the top-level modules of the crate (src/auth/keys.rs belongs to `auth`,
  src/config.rs to `config`), by their `crate::NAME` references;
- the child modules of every directory module, by `super::NAME` and
  `crate::PARENT::NAME` references between siblings. A child may use its
  parent's own items (the parent is where the children meet); what a parent
  re-exports is counted as the parent's.

References are read from the source text (comments removed): `crate::a::b`
paths, and the first-level names of grouped imports `use crate::{a::X, b};`.
lib.rs and main.rs are the crate root and are skipped.
"""
import re
import sys
from pathlib import Path

COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
IDENT = r"[a-z_][a-z0-9_]*"


def first_level(body):
    """Names at brace depth 0 of a grouped import's body."""
    names, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            names.append(cur)
            cur = ""
        else:
            cur += ch
    names.append(cur)
    out = []
    for part in names:
        m = re.match(r"\s*(" + IDENT + ")", part)
        if m and m.group(1) not in ("self", "super", "crate"):
            out.append(m.group(1))
    return out


def references(text, prefix):
    """Names that follow `prefix::` (e.g. `crate`, `super`, `crate::auth`)."""
    refs = set(re.findall(r"\b" + re.escape(prefix) + r"::(" + IDENT + ")", text))
    for m in re.finditer(r"\b" + re.escape(prefix) + r"::\{", text):
        refs.update(first_level(text[m.end():]))
    return refs


def is_module(directory, name):
    return (directory / f"{name}.rs").is_file() or (directory / name).is_dir()


def source(path):
    return COMMENT.sub("", path.read_text(errors="replace"))


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def top_level(src):
    edges = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src)
        if rel.parts[0] in ("lib.rs", "main.rs", "bin"):
            continue
        mod = rel.parts[0][:-3] if rel.parts[0].endswith(".rs") else rel.parts[0]
        refs = {r for r in references(source(f), "crate") if r != mod and is_module(src, r)}
        edges.setdefault(mod, set()).update(refs)
    return edges


def siblings(src, directory):
    """Edges between the child modules of the directory module at `directory`."""
    parent_path = "::".join(directory.relative_to(src).parts)
    edges = {}
    for f in directory.rglob("*.rs"):
        rel = f.relative_to(directory)
        if rel.parts == ("mod.rs",):
            continue
        child = rel.parts[0][:-3] if rel.parts[0].endswith(".rs") else rel.parts[0]
        text = source(f)
        # `super::` means the parent only in the child's own top file.
        direct = len(rel.parts) == 1 or rel.parts[1:] == ("mod.rs",)
        refs = references(text, "crate::" + parent_path)
        if direct:
            refs |= references(text, "super")
        refs = {r for r in refs if r != child and is_module(directory, r)}
        edges.setdefault(child, set()).update(refs)
    return edges


def self_test():
    """The check must fail on a cycle at each level, and pass without one."""
    import tempfile

    cases = {
        "top-level cycle": ({"a.rs": "use crate::b::X;", "b.rs": "use crate::{a::Y};"}, 1),
        "sibling cycle": (
            {"p/mod.rs": "mod x; mod y;", "p/x.rs": "use super::y::A;",
             "p/y.rs": "use crate::p::x::B;"},
            1,
        ),
        "child uses parent": (
            {"p/mod.rs": "mod x; pub struct H; use x::f;", "p/x.rs": "use super::H;"},
            0,
        ),
        "layers": ({"a.rs": "use crate::b::X;", "b.rs": "// use crate::a::Y;"}, 0),
    }
    for name, (files, expected) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for rel, text in files.items():
                path = Path(d) / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            edges = [cycles(top_level(Path(d)))]
            edges += [cycles(siblings(Path(d), p)) for p in Path(d).rglob("*")
                      if p.is_dir() and (p / "mod.rs").is_file()]
            got = sum(len(c) for c in edges)
            if got != expected:
                print(f"self-test failed: {name}: {got} cycle(s), expected {expected}")
                sys.exit(1)
    print("check-cycles self-test: ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    found = 0
    for arg in sys.argv[1:]:
        src = Path(arg)
        if not src.is_dir():
            print(f"{arg}: no such directory")
            found += 1
            continue
        for c in cycles(top_level(src)):
            print(f"{arg}: cycle among modules {', '.join(c)}")
            found += 1
        for directory in sorted(p for p in src.rglob("*") if p.is_dir()):
            if not (directory / "mod.rs").is_file():
                continue
            name = "::".join(directory.relative_to(src).parts)
            for c in cycles(siblings(src, directory)):
                print(f"{arg}: cycle among {name}::{{{', '.join(c)}}}")
                found += 1
    print(f"{found} import cycle(s)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
