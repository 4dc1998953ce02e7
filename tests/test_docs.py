"""The docs hold together: invariant ids and relative links.

docs/invariants.md defines every invariant id (A deploy correctness, B security,
C data safety and operations) as a ``### <id> <title>`` heading. Tests, policies,
scripts and docs cite the ids in a handful of fixed forms, listed in
``CITATION_FORMS``; a bare letter-and-digits token elsewhere ("%C0%AF", a
Mermaid node, "eu-west-1a") is not a citation. The checks:

- every id cited anywhere is defined (no reference to a rule nobody can look up);
- every defined id is cited by something outside docs/invariants.md (no rule
  that nothing enforces or documents);
- each definition says where it applies and how it is enforced, and the
  policies it names are the ones docs/policies.md maps to it;
- every relative link in a repository Markdown file stays inside the
  repository and points at a file or directory that exists;
- docs/README.md indexes every page under docs/.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Final
from urllib.parse import unquote

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
DOCS: Final = ROOT / "docs"
INVARIANTS_PAGE: Final = DOCS / "invariants.md"
POLICIES_PAGE: Final = DOCS / "policies.md"
DOCS_INDEX: Final = DOCS / "README.md"

# Where ids are cited, and which files there are read.
CITING_DIRS: Final = ("tests", "infra", "docs", "scripts", "bootstrap", "policy", ".github")
CITING_SUFFIXES: Final = (".py", ".md", ".sh", ".yml", ".yaml", ".toml")

# One invariant id: a group letter and 1-99, not glued to a word or a %-escape.
_ID: Final = r"(?<![\w%])[ABC][1-9][0-9]?(?!\w)"
# Between ids of one list: "B11, B18", "A13 / B7", "A11/B11", "C3-C5" (or an en dash),
# "B18 vs C1", "B9 and C3", and a note in parentheses: "A5, A6 (task role), A10".
_SEPARATOR: Final = (
    r"(?:\s*\([^()\n]*\))?"
    r"(?:\s*(?:[,/;+]|-|\u2013|\band\b|\bvs\b|\bthrough\b)\s*|\s+)"
)
_ID_LIST: Final = rf"(?P<ids>{_ID}(?:{_SEPARATOR}{_ID})*)"

CITATION_FORMS: Final[tuple[re.Pattern[str], ...]] = (
    # "INVARIANT B11", "INVARIANTS B11, B18, B19", "(INVARIANTS B9, B13, C3-C5)"
    re.compile(rf"\bINVARIANTS?:?\s+{_ID_LIST}"),
    # A label before a colon: '"""B11: …', '"""A6 [CKV_AWS_249]: …', '"""B15 (P): …',
    # "# --- A6 / B11: IAM", "Telemetry (B19/B20): …"
    re.compile(rf"{_ID_LIST}(?=\s*(?:\[[^\]\n]*\]\s*|\(P\)\s*)?:)"),
    # A docstring that opens with ids: '"""C2 for the new keys …'
    re.compile(rf'"""\s*{_ID_LIST}'),
    # A comment rule: "# --- C1 -----", "# --- A12, A13, B14 ---"
    re.compile(rf"#\s*-{{3,}}\s*{_ID_LIST}"),
    # In parentheses: "(B12)", "(A4, B13, C3-C5)", "(C1, `tests/…`)", "(B15 (P))"
    re.compile(rf"\({_ID_LIST}(?=[)\s,;:/.])"),
    # A test named after its ids: test_b11_…, test_b18_b19_…, `test_a2_*`
    re.compile(r"\btest_(?P<ids>(?:[abc][1-9][0-9]?_)+)"),
    # A Markdown table row's first cell ("| A2 target group …", "| B7 (shared part) |")
    # or a cell of ids only ("| A2 A15 |")
    re.compile(rf"^\|\s*{_ID_LIST}(?=[\s|])", re.MULTILINE),
    re.compile(rf"\|\s*{_ID_LIST}\s*(?=\|)"),
    # A string of ids only, as the policy registry writes them: "A2 A15"
    re.compile(rf'"{_ID_LIST}"'),
    # Markdown bold: **B3**
    re.compile(rf"\*\*{_ID_LIST}\*\*"),
)

_ONE_ID: Final = re.compile(r"(?<![A-Za-z0-9])([ABCabc])([1-9][0-9]?)(?![A-Za-z0-9])")
_NOTE: Final = re.compile(r"\([^()\n]*\)")
_RANGE: Final = re.compile(r"\b([ABC])([1-9][0-9]?)\s*[-\u2013]\s*\1([1-9][0-9]?)\b")
_DEFINITION: Final = re.compile(r"^### (?P<id>[ABC][1-9][0-9]?) \S", re.MULTILINE)


def cited_ids(text: str) -> set[str]:
    """Every invariant id ``text`` cites in one of ``CITATION_FORMS``; ranges are expanded."""
    found: set[str] = set()
    for form in CITATION_FORMS:
        for match in form.finditer(text):
            ids = _NOTE.sub(" ", match.group("ids"))  # a note between ids is prose
            for letter, first, last in _RANGE.findall(ids):
                found.update(f"{letter}{n}" for n in range(int(first), int(last) + 1))
            found.update(f"{letter.upper()}{number}" for letter, number in _ONE_ID.findall(ids))
    return found


def _repository_files(suffixes: Iterable[str], under: Iterable[str] = ()) -> list[Path]:
    """Tracked and new (not ignored) files with these suffixes, as git lists them."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *under],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    wanted = tuple(suffixes)
    # --cached still lists a tracked file deleted in the work tree; it cites nothing.
    return sorted(
        path
        for name in listing.split("\0")
        if name.endswith(wanted) and (path := ROOT / name).is_file()
    )


@cache
def _citations() -> dict[str, set[str]]:
    """Invariant id -> the files (relative paths) that cite it."""
    by_id: dict[str, set[str]] = {}
    for path in _repository_files(CITING_SUFFIXES, CITING_DIRS):
        if path == Path(__file__).resolve():
            continue  # the examples below cite every form on purpose; they cover nothing
        for invariant in cited_ids(path.read_text(encoding="utf-8")):
            by_id.setdefault(invariant, set()).add(path.relative_to(ROOT).as_posix())
    return by_id


def _sections() -> dict[str, str]:
    """Invariant id -> its section of docs/invariants.md (heading to the next heading)."""
    text = INVARIANTS_PAGE.read_text(encoding="utf-8")
    starts = list(_DEFINITION.finditer(text))
    sections: dict[str, str] = {}
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        body = text[match.start() : end]
        body = re.split(r"^#{1,2} ", body, maxsplit=1, flags=re.MULTILINE)[0]
        assert match.group("id") not in sections, f"{match.group('id')} is defined twice"
        sections[match.group("id")] = body
    return sections


# --------------------------------------------------------------- the citation forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(INVARIANT B11, last clause)", {"B11"}),
        ("(INVARIANTS B9, B13, C3-C5).", {"B9", "B13", "C3", "C4", "C5"}),
        ('    """A13 / B7: {"username": "app"}', {"A13", "B7"}),
        ('    """A6 [CKV_AWS_249]: the task role', {"A6"}),
        ('    """B15 (P): prod runs Container Insights', {"B15"}),
        ('    """B18 vs C1: where the ALB refuses deletion', {"B18", "C1"}),
        ('    """C2 for the new keys: turning telemetry on', {"C2"}),
        ("# --- A12, A13, B14 -----------", {"A12", "A13", "B14"}),
        ("# ------------------------ B18-B20, C8: telemetry", {"B18", "B19", "B20", "C8"}),
        ("in prod (B13); P: Performance", {"B13"}),
        (
            '"""All four real stacks pass (A1-A3 A5-A15 B1-B15 C2-C5 C7)."""',
            {f"A{n}" for n in (1, 2, 3, *range(5, 16))}
            | {f"B{n}" for n in range(1, 16)}
            | {"C2", "C3", "C4", "C5", "C7"},
        ),
        ("def test_b18_b19_prod_refuses_telemetry_off(", {"B18", "B19"}),
        ("def test_c1_a_compute_switch_keeps_the_certificate(", {"C1"}),
        ("| B1/B2/B3 security groups of the shape | `test_b1_*` |", {"B1", "B2", "B3"}),
        ("| `rds-telemetry` | B19 B20 | resource |", {"B19", "B20"}),
        ('        "A5 A6 A10 B6 B7 B10",', {"A5", "A6", "A10", "B6", "B7", "B10"}),
        ("- **B3** is enforced strictly", {"B3"}),
        ("Telemetry (B19/B20): the parameter group", {"B19", "B20"}),
        ('    """A5, A6 (separate task role), A10 (set), B6, B7.', {"A5", "A6", "A10", "B6", "B7"}),
        ('    """A8 (password), A9, B9 and C3."""', {"A8", "A9", "B9", "C3"}),
        ("(A5 (sha256:abc1, b2), B6)", {"A5", "B6"}),
    ],
)
def test_citation_forms_read_what_the_repository_writes(text: str, expected: set[str]) -> None:
    """Each form the repository uses yields exactly its ids (ranges expanded)."""
    assert cited_ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'f"{ITEMS}/%C0%AF",  # an overlong encoding of "/"',
        "subnets in eu-west-1a and eu-west-1b",
        "    A1 --> B2",
        'app_alb["A1<br/>lb"]',
        "CKV_AWS_B12 and ECS.2 and RDS8",
        "the B7 policy",
        "a 1:1 mapping, A1 ratio",
        "| key | A1B2 |",
        "test_ab1_not_an_id",
    ],
)
def test_citation_forms_ignore_look_alikes(text: str) -> None:
    """Letter-and-digit tokens outside the citation forms are not citations."""
    assert cited_ids(text) == set()


# ------------------------------------------------------------------ the invariants


def test_every_cited_invariant_is_defined_in_docs_invariants_md() -> None:
    """An id cited by a test, policy, script or doc has a definition a reader can look up."""
    defined = set(_sections())
    undefined = {
        invariant: sorted(files)
        for invariant, files in _citations().items()
        if invariant not in defined
    }
    assert not undefined, f"cited but not defined in docs/invariants.md: {undefined}"


def test_every_defined_invariant_is_cited_outside_its_definition() -> None:
    """No rule is written down that no test, policy or other doc refers to."""
    page = INVARIANTS_PAGE.relative_to(ROOT).as_posix()
    citations = _citations()
    uncovered = sorted(
        invariant for invariant in _sections() if not citations.get(invariant, set()) - {page}
    )
    assert not uncovered, f"defined in docs/invariants.md but cited nowhere else: {uncovered}"


def test_every_group_is_present_and_in_order() -> None:
    """A, B and C each run from 1 without gaps, in order, so an id is easy to find."""
    ids = list(_sections())
    for letter in "ABC":
        numbers = [int(i[1:]) for i in ids if i[0] == letter]
        assert numbers == list(range(1, len(numbers) + 1)), f"group {letter}: {numbers}"
    assert ids == sorted(ids, key=lambda i: ("ABC".index(i[0]), int(i[1:])))


def _field(invariant: str, body: str, name: str) -> str:
    """The text of a section's ``- <name>: …`` line (the line must be there)."""
    line = re.search(rf"^- {name}: (?P<text>.+)$", body, re.MULTILINE)
    assert line, f"{invariant}: no '- {name}:' line"
    return line.group("text")


def test_every_definition_says_where_it_applies_and_what_enforces_it() -> None:
    """Each section states D or P, its policies (or why none) and a test that exists."""
    for invariant, body in _sections().items():
        assert re.match(r"(D|P)\b", _field(invariant, body, "Applies")), (
            f"{invariant}: Applies must start with D (every environment) or P (prod)"
        )
        policies = _field(invariant, body, "Policies")
        assert re.match(r"`[a-z0-9-]+`|none\b", policies), (
            f"{invariant}: Policies must name policies or say none, and why"
        )
        # Links are resolved by the link test below, so a moved test module fails there.
        assert "](../tests/" in _field(invariant, body, "Tests"), (
            f"{invariant}: Tests must link at least one test module"
        )


def _policy_table() -> dict[str, set[str]]:
    """docs/policies.md: policy name -> the ids its row lists."""
    rows: dict[str, set[str]] = {}
    for line in POLICIES_PAGE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if line.startswith("| `") and len(cells) > 3:
            rows[cells[1].strip("`")] = set(cells[2].split())
    return rows


def test_definitions_name_the_policies_that_enforce_them() -> None:
    """A definition's policies are exactly the docs/policies.md rows that list its id.

    The policy tests (tests/infra/policies/) hold that table to the pack's registry,
    so this ties each definition to the policies that really run.
    """
    table = _policy_table()
    assert table, "docs/policies.md has no policy table"
    for invariant, body in _sections().items():
        named = set(re.findall(r"`([a-z0-9-]+)`", _field(invariant, body, "Policies")))
        expected = {name for name, ids in table.items() if invariant in ids}
        assert named == expected, f"{invariant}: names {sorted(named)}, table {sorted(expected)}"


# ------------------------------------------------------------------------- links

# [text](target) and ![alt](target); the target may be <bracketed> and carry a "title".
_INLINE_LINK: Final = re.compile(r"!?\[[^\]\n]*\]\(\s*(?:<(?P<angle>[^>\n]*)>|(?P<bare>[^)\s]*))")
# [label]: target (a footnote, [^1]: text, is not a link)
_REFERENCE: Final = re.compile(r"^\s{0,3}\[(?!\^)[^\]\n]+\]:\s*<?(?P<target>[^>\s]+)", re.MULTILINE)
_FENCE: Final = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN: Final = re.compile(r"(`+)(?!`).+?(?<!`)\1", re.DOTALL)
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_links(text: str) -> Iterator[str]:
    """Link targets of a Markdown text, outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    for match in _INLINE_LINK.finditer(prose):
        yield match.group("angle") if match.group("angle") is not None else match.group("bare")
    for match in _REFERENCE.finditer(prose):
        yield match.group("target")


def link_problem(source: Path, target: str) -> str | None:
    """Why a link target of ``source`` is wrong, or None (URLs and bare anchors are fine)."""
    if target.startswith("file:"):
        return "is a local file URL"
    if not target or target.startswith("#") or _SCHEME.match(target):
        return None
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    # GitHub resolves a leading "/" from the repository root. Normalised as text, so a
    # path that leaves the repository and comes back through its directory name fails.
    base = "" if path.startswith("/") else source.parent.relative_to(ROOT).as_posix()
    relative = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
    if relative == ".." or relative.startswith("../"):
        return "resolves outside the repository"
    if not (ROOT / relative).exists():
        return "points at nothing"
    return None


def test_markdown_link_parser_reads_inline_reference_and_skips_code() -> None:
    """The parser sees inline, image, angle and reference links, never code."""
    text = (
        'See [a](a.md#x), ![b](img/b.png "t"), [c](<c d.md>) and [ref].\n\n'
        "`[not](code.md)`\n```\n[nor](fenced.md)\n```\n[ref]: r.md\n[^1]: a footnote\n"
    )
    assert list(markdown_links(text)) == ["a.md#x", "img/b.png", "c d.md", "r.md"]


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("policies.md", None),
        ("policies.md#policies-and-the-invariants-they-cover", None),
        ("diagrams/", None),
        ("../tests/infra/test_data.py", None),
        ("/docs/invariants.md", None),
        ("../docs/policies.md", None),
        ("https://docs.aws.amazon.com/", None),
        ("#a-heading", None),
        ("../../outside/design.md", "resolves outside the repository"),
        # Back in through the checkout's own directory name: fine here, broken on GitHub.
        (f"../../{ROOT.name}/docs/policies.md", "resolves outside the repository"),
        ("/outside/design.md", "points at nothing"),
        ("file:///tmp/design.md", "is a local file URL"),
        ("no-such-page.md", "points at nothing"),
    ],
)
def test_link_rules(target: str, problem: str | None) -> None:
    """Relative links resolve inside the repository; URLs and anchors pass."""
    assert link_problem(DOCS / "invariants.md", target) == problem


def test_relative_markdown_links_stay_inside_the_repository_and_resolve() -> None:
    """No Markdown file links out of the repository or to a missing file."""
    broken = [
        f"{path.relative_to(ROOT)}: ({target}) {problem}"
        for path in _repository_files([".md"])
        for target in markdown_links(path.read_text(encoding="utf-8"))
        if (problem := link_problem(path, target))
    ]
    assert not broken, "\n".join(broken)


def test_docs_index_lists_every_page() -> None:
    """docs/README.md links every Markdown page under docs/, so no page goes unlisted."""
    index = DOCS_INDEX.read_text(encoding="utf-8")
    linked = {
        (DOCS / target.split("#", 1)[0]).resolve()
        for target in markdown_links(index)
        if not _SCHEME.match(target) and not target.startswith("#")
    }
    pages = {path.resolve() for path in _repository_files([".md"], ["docs"])} - {
        DOCS_INDEX.resolve()
    }
    missing = sorted(str(page.relative_to(ROOT)) for page in pages - linked)
    assert not missing, f"docs/README.md does not list: {missing}"
