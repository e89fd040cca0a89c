#!/usr/bin/env python3
"""Generate the inputs/outputs tables of infra/terraform/README.md from the .tf files.

terraform-docs is not available here, so this reads the few things the tables need
(variable name, type, description, default, whether it is validated; output name and
description) with a small parser for the subset of HCL the module uses, and rewrites the
text between the BEGIN/END markers in the README.

  tfdocs.py            rewrite the README in place
  tfdocs.py --check    exit 1 if the README's tables are stale (CI)
  tfdocs.py --coverage exit 1 if a validated variable has no expect_failures test run
                       or terraform.tfvars.example sets a name that is not an input

Standard library only.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

MODULE = pathlib.Path(__file__).resolve().parent.parent / "terraform"
README = MODULE / "README.md"
BEGIN = "<!-- BEGIN GENERATED: inputs/outputs (infra/scripts/tfdocs.py) -->"
END = "<!-- END GENERATED: inputs/outputs -->"

OPEN = {"{": "}", "(": ")", "[": "]"}


def strip_comments(src: str) -> str:
    """Drop # and // line comments outside strings (block comments are not used here)."""
    out, i, n = [], 0, len(src)
    in_str = False
    while i < n:
        c = src[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(src[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif c == "#" or src.startswith("//", i):
            while i < n and src[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def balanced_end(src: str, i: int) -> int:
    """Index just past the expression starting at i: ends at a newline outside brackets and strings."""
    n = len(src)
    while i < n and src[i] != "\n":
        i = skip(src, i)
    return min(i, n)


def close_end(src: str, i: int) -> int:
    """Index just past the bracket that closes the one at src[i] (strings and nested brackets skipped)."""
    close, i, n = OPEN[src[i]], i + 1, len(src)
    while i < n:
        if src[i] == close:
            return i + 1
        i = skip(src, i)
    return n


def skip(src: str, i: int) -> int:
    """Index past src[i]: past the whole string or bracketed group when one starts there."""
    if src[i] == '"':
        return balanced_end_string(src, i)
    if src[i] in OPEN:
        return close_end(src, i)
    return i + 1


def blocks(src: str, kind: str) -> list[tuple[str, str]]:
    """Top-level `kind "name" { body }` blocks as (name, body)."""
    found = []
    for m in re.finditer(rf'^{kind}\s+"([^"]+)"\s*\{{', src, re.M):
        start = m.end()
        found.append((m.group(1), src[start : close_end(src, start - 1) - 1]))
    return found


def attribute(body: str, name: str) -> str | None:
    """The source text of a body-level attribute (nested blocks are skipped)."""
    i, n = 0, len(body)
    line_start = True
    while i < n:
        if line_start:
            m = re.match(rf"[ \t]*{name}[ \t]*=[ \t]*", body[i:])
            if m:
                s = i + m.end()
                return body[s : balanced_end(body, s)].strip()
        line_start = body[i] == "\n"
        i = skip(body, i)
    return None


def balanced_end_string(src: str, i: int) -> int:
    i += 1
    while src[i] != '"':
        i += 2 if src[i] == "\\" else 1
    return i + 1


def unquote(text: str) -> str:
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def read(kind: str) -> list[dict]:
    items = []
    for tf in sorted(MODULE.glob("*.tf")):
        src = strip_comments(tf.read_text())
        for name, body in blocks(src, kind):
            items.append(
                {
                    "name": name,
                    "file": tf.name,
                    "type": attribute(body, "type"),
                    "description": unquote(attribute(body, "description") or ""),
                    "default": attribute(body, "default"),
                    "validated": re.search(r"^\s*validation\s*\{", body, re.M) is not None,
                }
            )
    return items


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    return f"`{cell(text)}`"


def render() -> str:
    variables = read("variable")
    outputs = read("output")
    lines = [BEGIN, "", "### Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    # Required inputs first, then alphabetical: what a user must set is seen first.
    for v in sorted(variables, key=lambda v: (v["default"] is not None, v["name"])):
        missing = [k for k in ("type", "description") if not v[k]]
        if missing:
            sys.exit(f"tfdocs: variable {v['name']} in {v['file']} has no {' or '.join(missing)}: every input needs both")
        default = "n/a" if v["default"] is None else code(v["default"])
        required = "yes" if v["default"] is None else "no"
        lines.append(f"| `{v['name']}` | {cell(v['description'])} | {code(v['type'])} | {default} | {required} |")
    lines += ["", "### Outputs", "", "| Name | Description |", "|---|---|"]
    for o in sorted(outputs, key=lambda o: o["name"]):
        if not o["description"]:
            sys.exit(f"tfdocs: output {o['name']} in {o['file']} has no description")
        lines.append(f"| `{o['name']}` | {cell(o['description'])} |")
    lines += ["", END]
    return "\n".join(lines)


def splice(readme: str, table: str) -> str:
    if BEGIN not in readme or END not in readme:
        sys.exit(f"tfdocs: {README} lacks the markers {BEGIN!r} and {END!r}: add them where the tables belong")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + table + tail


def coverage() -> int:
    tests = "".join(p.read_text() for p in (MODULE / "tests").glob("*.tftest.hcl"))
    expected = set(re.findall(r"expect_failures\s*=\s*\[([^\]]*)\]", tests))
    covered = {m for group in expected for m in re.findall(r"var\.([A-Za-z0-9_]+)", group)}
    variables = read("variable")
    missing = [v["name"] for v in variables if v["validated"] and v["name"] not in covered]
    status = 0
    if missing:
        print(
            "tfdocs: validated variables without an expect_failures run in infra/terraform/tests: " + ", ".join(missing),
            file=sys.stderr,
        )
        status = 1
    # The example's commented-out lines are suggestions a user uncomments, so they count too.
    example = (MODULE / "terraform.tfvars.example").read_text()
    named = set(re.findall(r"^#?\s*([a-z][a-z0-9_]*)\s*=", example, re.M))
    unknown = sorted(named - {v["name"] for v in variables})
    if unknown:
        print(f"tfdocs: terraform.tfvars.example sets names that are not inputs: {', '.join(unknown)}", file=sys.stderr)
        status = 1
    return status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if README.md's generated tables are stale")
    ap.add_argument("--coverage", action="store_true", help="fail if a validated variable has no expect_failures run")
    args = ap.parse_args()
    if args.coverage:
        return coverage()
    current = README.read_text()
    wanted = splice(current, render())
    if args.check:
        if current != wanted:
            print(f"tfdocs: the inputs/outputs tables in {README} are stale: run infra/scripts/tfdocs.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
