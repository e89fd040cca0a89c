#!/usr/bin/env python3
"""Policy rules checkov does not enforce on its own, over infra/terraform/*.tf.

1. Every policy statement with `resources = ["*"]` has a `condition` block
   (AWS needs "*" for key policies, X-Ray and EC2 Describe calls; a condition
   still narrows them).
2. Every `#checkov:skip=CKV_...` names the check and gives a reason of some substance.

Exit 1 with one line per finding. Standard library only.
"""
from __future__ import annotations

import pathlib
import re
import sys

MODULE = pathlib.Path(__file__).resolve().parent.parent / "terraform"
WILDCARD = re.compile(r'^\s*resources\s*=\s*\[\s*"\*"\s*\]', re.M)
SKIP = re.compile(r"#\s*checkov:skip=([^\s:]*)(?::(.*))?")


def enclosing_block(src: str, pos: int) -> tuple[int, int]:
    """Start (the `{`) and end (past the `}`) of the innermost block around pos."""
    depth, i = 0, pos
    while i > 0:
        i -= 1
        if src[i] == "}":
            depth += 1
        elif src[i] == "{":
            if depth == 0:
                break
            depth -= 1
    start, depth, j = i, 0, i
    while j < len(src):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return start, j + 1
        j += 1
    return start, len(src)


def main() -> int:
    findings = []
    for tf in sorted(MODULE.glob("*.tf")):
        src = tf.read_text()
        for m in WILDCARD.finditer(src):
            start, end = enclosing_block(src, m.start())
            if not re.search(r"^\s*condition\s*\{", src[start:end], re.M):
                line = src.count("\n", 0, m.start()) + 1
                findings.append(f'{tf.name}:{line}: a statement with resources = ["*"] needs a condition block')
        for n, text in enumerate(src.splitlines(), 1):
            for m in SKIP.finditer(text):
                check, reason = m.group(1), (m.group(2) or "").strip()
                if not re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check):
                    findings.append(f"{tf.name}:{n}: checkov skip {check!r} does not name a check (CKV_AWS_123)")
                if len(reason.split()) < 5:
                    findings.append(f"{tf.name}:{n}: checkov skip {check} needs a reason after the colon that a reviewer can judge")
    for f in findings:
        print(f"policy-lint: {f}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
