#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make metrics: where the crate stands on "unsafe only at the edges".

Prints, for rust/kvm_riscv/*.rs (the generated bindings excluded):
  - `unsafe {` blocks per file, and the files that contain `unsafe` at all;
  - `unsafe fn`s that take a raw `*mut b::kvm_vcpu`, outside abi.rs;
  - `#[no_mangle]` items;
  - `as` casts, and those without a `// CAST:` note on the line or the
    comment lines just above;
  - the module import graph (`crate::X` uses) and its cycles.
With --check, exits 1 if a logic module contains `unsafe` or the import
graph has a cycle.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rust", "kvm_riscv")

# The boundary modules: C ABI entry points, the handle and its accessors,
# CSR and asm, NACL shared memory, G-stage page-table memory,
# kernel-facility wrappers.
BOUNDARY = {
    "abi", "handle", "ffi", "csr", "nacl", "percpu", "static_key", "irq", "sbi", "print",
    "bindings", "pgtable",
}


def strip_comments(text):
    out = []
    for line in text.splitlines():
        i = line.find("//")
        out.append(line if i < 0 else line[:i])
    return out


def main():
    check = "--check" in sys.argv
    files = sorted(f for f in os.listdir(ROOT)
                   if f.endswith(".rs") and f != "bindings_generated.rs")
    mods = [f[:-3] for f in files]
    blocks, has_unsafe, rawfns, nomangle, casts, uncast = {}, [], [], 0, 0, []
    graph = {m: set() for m in mods}
    for f in files:
        m = f[:-3]
        text = open(os.path.join(ROOT, f)).read()
        code = strip_comments(text)
        raw = text.splitlines()
        blocks[m] = sum(len(re.findall(r"\bunsafe\s*\{", l)) for l in code)
        if any(re.search(r"\bunsafe\b", l) for l in code):
            has_unsafe.append(m)
        if m != "abi":
            for i, l in enumerate(code):
                if re.search(r"\bunsafe\s+(extern\s+\"C\"\s+)?fn\b", l):
                    sig = " ".join(code[i:i + 4])
                    if "*mut b::kvm_vcpu" in sig.split("{")[0]:
                        rawfns.append(f"{f}:{i + 1}")
        nomangle += sum(1 for l in code if "#[no_mangle]" in l)
        # A `// CAST (all): ...` comment covers the lines after it up to the
        # end of the block it stands in (a `}` less indented than it).
        covered, scope = set(), None
        for i, l in enumerate(raw):
            ind = len(l) - len(l.lstrip())
            if scope is not None and l.strip().startswith("}") and ind < scope:
                scope = None
            if re.search(r"//\s*CAST \(all", l):
                scope = ind
            elif scope is not None:
                covered.add(i)
        for i, l in enumerate(code):
            for _ in re.finditer(r"\bas\s+(u8|u16|u32|u64|usize|i8|i16|i32|i64|isize|c_\w+|b::\w+)\b", l):
                casts += 1
                ctx = raw[max(0, i - 6):i + 1]
                if i not in covered and not any("CAST" in c for c in ctx):
                    uncast.append(f"{f}:{i + 1}")
        for dep in set(re.findall(r"crate::(\w+)", "\n".join(code))):
            if dep in graph and dep != m:
                graph[m].add(dep)

    # Strongly connected components (Tarjan).
    index, low, onstack, stack, sccs, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        onstack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in onstack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                onstack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in mods:
        if v not in index:
            visit(v)

    total = sum(blocks.values())
    logic_unsafe = [m for m in has_unsafe if m not in BOUNDARY]
    print(f"unsafe blocks: {total} in {len(has_unsafe)} files")
    for m in sorted(has_unsafe, key=lambda m: -blocks[m]):
        kind = "boundary" if m in BOUNDARY else "LOGIC"
        print(f"  {m + '.rs':24} {blocks[m]:4}  {kind}")
    print(f"unsafe fn taking *mut kvm_vcpu outside abi.rs: {len(rawfns)}")
    for r in rawfns:
        print(f"  {r}")
    print(f"#[no_mangle] items: {nomangle}")
    print(f"as casts: {casts}, without a CAST note: {len(uncast)}")
    for u in uncast:
        print(f"  {u}")
    print(f"import cycles: {len(sccs)}")
    for c in sccs:
        print("  " + " <-> ".join(c))
    if check and (logic_unsafe or sccs):
        print(f"FAIL: logic modules with unsafe: {logic_unsafe}; cycles: {len(sccs)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
