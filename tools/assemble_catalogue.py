"""Assemble a language's catalogue from the parts its translators wrote (issue 28).

    python tools/assemble_catalogue.py fr /path/to/parts/part1.toml /path/to/parts/part2.toml ... [--fixes FILE]

Each part is a slice of ``en.toml`` (whole tables) in the other language. A part that does not parse
is left out (and named); a key whose placeholders or format specs differ from English is dropped
(and named), so the app falls back to the English sentence for it rather than show a broken one.
The parts are concatenated in the order given into ``gradcam_core/present/words/<lang>.toml``;
the result must parse, else nothing is written.
"""
from __future__ import annotations

import argparse
import re
import string
import sys
import tomllib
from pathlib import Path

WORDS = Path(__file__).resolve().parents[1] / "gradcam_core" / "present" / "words"
HEADER = "# {lang}: assembled by tools/assemble_catalogue.py from the translators' parts; same keys,\n" \
         "# placeholders and format specs as en.toml (tests/test_catalogue.py checks it).\n"


def _flat(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = prefix + key
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                out[f"{name}.{i}"] = str(item)
        else:
            out[name] = str(value)
    return out


def _fields(template: str) -> list[tuple]:
    return sorted((f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None)


_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]+\")\s*=")
_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*$")


def _drop_keys(text: str, bad: set[str]) -> str:
    """The part's text without the assignments of the keys in ``bad`` (a list key: the whole list)."""
    out, table, skipping = [], "", False
    for line in text.split("\n"):
        m = _TABLE.match(line)
        if m:
            table, skipping = m.group(1).strip(), False
        a = _ASSIGN.match(line)
        if a:
            name = f"{table}.{a.group(1).strip(chr(34))}" if table else a.group(1).strip('"')
            skipping = name in bad
        elif skipping and (m or not line.strip()):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def _replace_keys(text: str, fixes: dict[str, str]) -> tuple[str, set[str]]:
    """The part's text with the one-line assignments of the keys in ``fixes`` given new values."""
    import json

    out, table, done = [], "", set()
    for line in text.split("\n"):
        m = _TABLE.match(line)
        if m:
            table = m.group(1).strip()
        a = _ASSIGN.match(line)
        if a:
            name = f"{table}.{a.group(1).strip(chr(34))}" if table else a.group(1).strip('"')
            if name in fixes:
                line = f"{a.group(1)} = {json.dumps(fixes[name], ensure_ascii=False)}"
                done.add(name)
        out.append(line)
    return "\n".join(out), done


def _merge_tables(text: str) -> str:
    """One block per table: a part that adds keys to a table an earlier part declared (``[model.layer]``
    again) has its lines moved into that earlier block, since TOML declares a table once."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.split("\n"):
        m = _TABLE.match(line)
        if m:
            blocks.append((m.group(1).strip(), [line]))
        else:
            blocks[-1][1].append(line)
    first: dict[str, list[str]] = {}
    out: list[list[str]] = []
    for name, lines in blocks:
        if name is not None and name in first:
            body = lines[1:]
            while body and not body[-1].strip():
                body.pop()
            target = first[name]
            while target and not target[-1].strip():
                target.pop()
            target.extend(body + [""])
            continue
        if name is not None:
            first[name] = lines
        out.append(lines)
    return "\n".join(line for lines in out for line in lines)


def assemble(lang: str, parts: list[Path], fixes: dict[str, str] | None = None) -> tuple[str, list[str]]:
    english = _flat(tomllib.loads((WORDS / "en.toml").read_text(encoding="utf-8")))
    texts, notes = [], []
    for part in parts:
        if not part.exists():
            notes.append(f"{part.name}: not there yet")
            continue
        text = part.read_text(encoding="utf-8")
        try:
            found = _flat(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            notes.append(f"{part.name}: does not parse ({e}); left out")
            continue
        if fixes:
            text, done = _replace_keys(text, fixes)
            if done:
                notes.append(f"{part.name}: corrected {sorted(done)}")
            found = _flat(tomllib.loads(text))
        bad = set()
        for key, template in found.items():
            try:
                if key not in english or _fields(template) != _fields(english[key]):
                    bad.add(key.rsplit(".", 1)[0] if key.rsplit(".", 1)[-1].isdigit() else key)
            except ValueError:
                bad.add(key)
        if bad:
            notes.append(f"{part.name}: dropped {sorted(bad)}")
            text = _drop_keys(text, bad)
        texts.append(f"# ── {part.name} ──\n" + text.strip() + "\n")
    whole = _merge_tables(HEADER.format(lang=lang) + "\n" + "\n".join(texts))
    flat = _flat(tomllib.loads(whole))
    notes.append(f"{len(flat)} of {len(english)} keys; missing {len(set(english) - set(flat))}")
    return whole, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lang")
    ap.add_argument("parts", nargs="+", type=Path)
    ap.add_argument("--fixes", type=Path, default=None,
                    help="a TOML file of [fix] \"dotted.key\" = \"template\": the lead's corrections to the parts")
    args = ap.parse_args(argv)
    fixes = tomllib.loads(args.fixes.read_text(encoding="utf-8"))["fix"] if args.fixes else None
    whole, notes = assemble(args.lang, args.parts, fixes)
    (WORDS / f"{args.lang}.toml").write_text(whole, encoding="utf-8")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
