"""The message catalogues (bot/locale/<lang>/LC_MESSAGES/liaison.po) and the Babel helpers.

French must cover English entry by entry with the same {placeholders} (at runtime a missing French
entry falls back to English silently, so this test is where a gap shows); a plural entry has every
form its language needs; every key the code asks for with a literal exists; plural forms are
chosen by Babel's CLDR rules, numbered as the catalogue's own Plural-Forms header says.
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import importlib
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.i18n import (
    LOCALE_DIR,
    SUPPORTED,
    Catalog,
    format_date,
    join_names,
    load,
    month_name,
    placeholders,
    plural_index,
    weekday_name,
)

ROOT = Path(__file__).resolve().parents[2]


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def _po(lang: str):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "liaison.po").open("rb") as f:
        return read_po(f)


def test_one_catalogue_per_supported_language():
    on_disk = {p.name for p in LOCALE_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert on_disk == set(SUPPORTED)
    for lang in SUPPORTED:
        assert len(load(lang)) > 50, lang


@pytest.mark.parametrize("lang", [lang for lang in SUPPORTED if lang != "en"])
def test_every_english_entry_exists_in_the_language_with_the_same_placeholders(lang):
    en, other = load("en"), load(lang)
    forms_needed = _po(lang).num_plurals
    problems = []
    for (context, key), text in en.items():
        where = f"{context}/{key}"
        if (context, key) not in other:
            problems.append(f"{where}: missing")
            continue
        translated = other[(context, key)]
        if isinstance(text, tuple) != isinstance(translated, tuple):
            problems.append(f"{where}: plural in one language only")
            continue
        if isinstance(translated, tuple) and len(translated) != forms_needed:
            problems.append(f"{where}: {len(translated)} plural forms, {lang} needs {forms_needed}")
        wanted = set().union(*map(placeholders, _forms(text)))
        found = set().union(*map(placeholders, _forms(translated)))
        if wanted != found:
            problems.append(f"{where}: placeholders {sorted(found)}, English has {sorted(wanted)}")
        # every form of a plural entry may use only the entry's placeholders, and none is empty
        if not all(_forms(translated)) or any(placeholders(f) - wanted for f in _forms(translated)):
            problems.append(f"{where}: a form is empty or has a placeholder English lacks")
    extra = sorted(f"{c}/{k}" for c, k in set(other) - set(en))
    assert not problems, "\n".join(problems)
    assert not extra, f"entries in {lang} that English lacks: {extra}"


def test_english_plural_entries_have_both_forms_and_nothing_is_fuzzy():
    assert _po("en").num_plurals == 2
    plural = {k: v for k, v in load("en").items() if isinstance(v, tuple)}
    assert plural, "no plural entry at all"
    assert all(len(v) == 2 and all(v) for v in plural.values()), plural
    for lang in SUPPORTED:
        assert not [m.id for m in _po(lang) if m.id and m.fuzzy], lang


@pytest.mark.parametrize("lang", SUPPORTED)
def test_plural_index_agrees_with_the_catalogue_header(lang):
    catalog = _po(lang)
    header_rule = gettext.c2py(catalog.plural_expr)
    numbers = [*range(0, 250), 1_000, 1_000_000, 2_000_000, 1_000_001]
    assert [plural_index(lang, n) for n in numbers] == [header_rule(n) for n in numbers]


def _write_po(root: Path, lang: str, body: str) -> None:
    folder = root / lang / "LC_MESSAGES"
    folder.mkdir(parents=True)
    header = {"en": "nplurals=2; plural=(n != 1);",
              "fr": "nplurals=3; plural=(n == 0 || n == 1) ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;"}[lang]
    (folder / "liaison.po").write_text(
        f'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n"Plural-Forms: {header}\\n"\n'
        '"Content-Type: text/plain; charset=utf-8\\n"\n\n' + body, encoding="utf-8")


@pytest.fixture
def small(tmp_path: Path) -> Catalog:
    _write_po(tmp_path, "en", (
        'msgctxt "t"\nmsgid "hello"\nmsgstr "Hello {name}"\n\n'
        'msgctxt "t"\nmsgid "only_en"\nmsgstr "Only in English"\n\n'
        'msgctxt "t"\nmsgid "got"\nmsgid_plural "got"\nmsgstr[0] "{count} thanks received"\n'
        'msgstr[1] "{count} thanks received, {who}"\n\n'
        'msgctxt "t"\nmsgid "pieces"\nmsgid_plural "pieces"\nmsgstr[0] "{count} piece"\nmsgstr[1] "{count} pieces"\n\n'
        'msgctxt "other"\nmsgid "hello"\nmsgstr "Another context"\n'))
    _write_po(tmp_path, "fr", (
        'msgctxt "t"\nmsgid "hello"\nmsgstr "Bonjour {name}"\n\n'
        'msgctxt "t"\nmsgid "only_en"\nmsgstr ""\n\n'
        'msgctxt "t"\nmsgid "pieces"\nmsgid_plural "pieces"\nmsgstr[0] "{count} reçu"\n'
        'msgstr[1] "{count} de reçus"\nmsgstr[2] "{count} reçus"\n'))
    return Catalog("t", root=tmp_path)


def test_a_missing_or_untranslated_french_entry_falls_back_to_english(small: Catalog):
    assert small.get("fr", "hello", name="Chloé") == "Bonjour Chloé"
    assert small.get("fr", "only_en") == "Only in English"  # empty msgstr: untranslated
    assert small.get("de", "hello", name="Jonas") == "Hello Jonas"  # not a supported language
    assert small.get("en", "hello", name="Alice") == "Hello Alice"  # its context, not "other"'s
    with pytest.raises(KeyError, match="missing"):
        small.get("en", "missing")


def test_count_picks_the_plural_form(small: Catalog):
    assert [small.get("en", "pieces", count=n) for n in (0, 1, 2)] == ["0 pieces", "1 piece", "2 pieces"]
    assert [small.get("fr", "pieces", count=n) for n in (0, 1, 2, 1_000_000)] == [
        "0 reçu", "1 reçu", "2 reçus", "1000000 de reçus"]
    # French falls back to English, and then English's rule picks the form: "0 pieces", not "0 piece"
    assert small.get("fr", "got", count=0, who="x") == "0 thanks received, x"
    # without a count the last form is used, as before plural entries existed
    assert small.get("en", "pieces", count=None) == "None pieces"


def test_the_inline_form_still_answers():
    inline = Catalog(en={"a": "A {x}", "b": "B"}, fr={"a": "À {x}"})
    assert (inline.get("fr", "a", x=1), inline.get("fr", "b"), inline.keys("fr")) == ("À 1", "B", {"a"})


def test_months_weekdays_dates_and_lists_come_from_babel():
    assert [month_name("en", 1), month_name("fr", 12), month_name("en", 9, "abbreviated"),
            month_name("fr", 2, "abbreviated")] == ["January", "décembre", "Sep", "févr."]
    assert [weekday_name("en", 0), weekday_name("fr", 6)] == ["Monday", "dimanche"]
    assert format_date("fr", dt.date(2026, 12, 7), "EEEE d MMMM") == "lundi 7 décembre"
    assert format_date("en", dt.date(2026, 12, 7), "EEEE d MMMM") == "Monday 7 December"
    zurich = dt.datetime(2026, 12, 7, 8, 5, tzinfo=dt.timezone.utc).astimezone(ZoneInfo("Europe/Zurich"))
    assert format_date("fr", zurich, "EEEE d MMM, HH:mm") == "lundi 7 déc., 09:05"
    assert format_date("en", zurich, "EEEE d MMM, HH:mm") == "Monday 7 Dec, 09:05"
    assert join_names("en", ["Alice", "Bob", "Chloé"]) == "Alice, Bob and Chloé"
    assert join_names("fr", ["Alice", "Bob", "Chloé"]) == "Alice, Bob et Chloé"
    assert [join_names("fr", []), join_names("fr", ["Alice"]), join_names("en", ["A", "B"])] == ["", "Alice", "A and B"]


def _catalog_calls(tree: ast.AST, catalogs: dict[str, Catalog]):
    """(catalog, key, whether count= is passed, line) of every ``ctx.t(CAT, "key", ...)`` and
    ``CAT.get(lang, "key", ...)`` with a literal key."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args, func = node.args, node.func
        if func.attr == "t" and len(args) >= 2 and isinstance(args[0], ast.Name):
            name, key = args[0].id, args[1]
        elif func.attr == "get" and isinstance(func.value, ast.Name) and len(args) >= 2:
            name, key = func.value.id, args[1]
        else:
            continue
        if name in catalogs and isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield catalogs[name], key.value, any(k.arg == "count" for k in node.keywords), node.lineno


def _modules_using_catalogs():
    for folder in ("bot", "skills", "adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            if "Catalog" in source or ".t(" in source:
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                yield path, module, source


def test_every_key_the_code_asks_for_exists_and_plural_entries_get_a_count():
    problems, calls = [], 0
    for path, module, source in _modules_using_catalogs():
        catalogs = {n: v for n, v in vars(importlib.import_module(module)).items() if isinstance(v, Catalog)}
        for catalog, key, counted, line in _catalog_calls(ast.parse(source), catalogs):
            calls += 1
            where = f"{path.relative_to(ROOT)}:{line} {catalog.name or 'inline'}/{key}"
            try:
                _, text = catalog.lookup("en", key)
            except KeyError:
                problems.append(f"{where}: no such entry")
                continue
            if isinstance(text, tuple) and not counted:
                problems.append(f"{where}: a plural entry asked for without count=")
    assert calls > 100, calls  # the scan found the call sites
    assert not problems, "\n".join(problems)


def test_the_converter_moves_an_inline_catalogue_into_the_po_files(tmp_path: Path):
    module = tmp_path / "skill.py"
    module.write_text(
        '"""A skill."""\nfrom bot.i18n import Catalog\n\nTEXT = Catalog(\n    en={"hi": "Hi {name}", "bye": ("Bye "\n'
        '                   "now")},\n    fr={"hi": "Salut {name}"},\n)\nOTHER = 1\n', encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog_to_po.py"), str(module), "TEXT", "skill",
                           "--locale-dir", str(tmp_path / "locale")], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert module.read_text(encoding="utf-8").endswith('TEXT = Catalog("skill")\nOTHER = 1\n')
    text = Catalog("skill", root=tmp_path / "locale")
    assert [text.get("fr", "hi", name="Léa"), text.get("fr", "bye"), text.get("en", "bye")] == ["Salut Léa", "Bye now", "Bye now"]


def test_no_module_keeps_an_inline_catalogue():
    """Catalog(en={...}, fr={...}) still works, for a branch written before the .po files, but its
    words belong in the catalogues: this says how to move them."""
    inline = []
    for path, _, source in _modules_using_catalogs():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                    getattr(node.value.func, "id", None) == "Catalog" and node.value.keywords:
                name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else "?"
                inline.append(f"python scripts/catalog_to_po.py {path.relative_to(ROOT)} {name} <context>")
    assert not inline, "move these catalogues into bot/locale:\n" + "\n".join(inline)
