"""Move an inline ``NAME = Catalog(en={...}, fr={...})`` of a module into the gettext catalogues.

    python scripts/catalog_to_po.py skills/help.py TEXT help

reads the two dictionaries from the module's source (they must be literals, as every catalogue
is), adds them to bot/locale/<lang>/LC_MESSAGES/liaison.po under the context ``help`` (msgid = the
key, msgstr = the text), and rewrites the assignment in the module as ``TEXT = Catalog("help")``.
Converting a module is then mechanical; what stays by hand is turning a counted text into a plural
entry (``msgid_plural`` with one ``msgstr[n]`` per form) and its call into ``ctx.t(..., count=n)``.

Running it again for a context already in the catalogues replaces that context's entries.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "bot" / "locale"
DOMAIN = "liaison"
LANGS = ("en", "fr")


def find_catalog(tree: ast.Module, name: str) -> ast.Call:
    """The ``Catalog(en=..., fr=...)`` call assigned to ``name`` at the top of the module."""
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(node.value, ast.Call):
            return node.value
    raise SystemExit(f"no `{name} = Catalog(en=..., fr=...)` at the top of the module")


def texts_of(call: ast.Call) -> dict[str, dict[str, str]]:
    by_lang = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg in LANGS}
    if "en" not in by_lang:
        raise SystemExit("the Catalog call has no literal en={...}")
    return by_lang


def po_path(lang: str, root: Path = LOCALE) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str, root: Path = LOCALE) -> PoCatalog:
    path = po_path(lang, root)
    if path.is_file():
        with path.open("rb") as f:
            return read_po(f, locale=lang, domain=DOMAIN)
    catalog = PoCatalog(locale=lang, domain=DOMAIN, project="Liaison", version="1", fuzzy=False,
                        msgid_bugs_address="", language_team="", last_translator="",
                        copyright_holder="the Liaison authors")
    catalog.header_comment = (
        f"# Liaison's user-facing text in {catalog.locale.english_name}.\n"
        "# msgctxt: the catalogue of one module or skill; msgid: the key the code asks for;\n"
        "# msgstr: the text, with str.format {placeholders} that must be kept as they are.")
    return catalog


def merge(lang: str, context: str, texts: dict[str, str], root: Path = LOCALE) -> None:
    """Replace ``context``'s entries of ``lang`` with ``texts``, in the order they were written."""
    catalog = read_catalog(lang, root)
    for message in [m for m in catalog if m.id and m.context == context]:
        catalog.delete(message.id, context=context)
    for key, text in texts.items():
        catalog.add(key, text, context=context)
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False)
    po_path(lang, root).parent.mkdir(parents=True, exist_ok=True)
    po_path(lang, root).write_bytes(out.getvalue())


def rewrite_module(path: Path, call: ast.Call, context: str) -> None:
    """The call's source text (from ``Catalog(`` to its closing parenthesis) becomes
    ``Catalog("context")``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = sum(len(x) for x in lines[: call.lineno - 1]) + len(lines[call.lineno - 1].encode()[: call.col_offset].decode())
    end = sum(len(x) for x in lines[: call.end_lineno - 1]) + len(lines[call.end_lineno - 1].encode()[: call.end_col_offset].decode())
    text = "".join(lines)
    path.write_text(text[:start] + f'Catalog("{context}")' + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", type=Path, help="the module's file, e.g. skills/help.py")
    parser.add_argument("name", help="the variable holding the Catalog, e.g. TEXT")
    parser.add_argument("context", help="the catalogue's name in the .po files, e.g. help")
    parser.add_argument("--keep-module", action="store_true", help="only write the .po files")
    parser.add_argument("--locale-dir", type=Path, default=LOCALE, help="where the <lang>/LC_MESSAGES folders are")
    args = parser.parse_args(argv)
    call = find_catalog(ast.parse(args.module.read_text(encoding="utf-8")), args.name)
    by_lang = texts_of(call)
    unknown = set(by_lang.get("fr", {})) - set(by_lang["en"])
    if unknown:
        raise SystemExit(f"French keys without English: {sorted(unknown)}")
    for lang in LANGS:
        merge(lang, args.context, by_lang.get(lang, {}), args.locale_dir)
    if not args.keep_module:
        rewrite_module(args.module, call, args.context)
    print(f"{args.module}: {len(by_lang['en'])} keys -> context {args.context!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
