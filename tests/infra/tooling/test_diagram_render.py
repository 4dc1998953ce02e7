"""Every committed Mermaid diagram renders, and the architecture pictures are readable.

The diagrams are rendered the way a browser does: mermaid's own CLI (mmdc,
npm package @mermaid-js/mermaid-cli) in headless Chromium, installed by
scripts/diagrams/install_renderer.sh into the git-ignored .tools/mermaid/
when missing. Where it cannot be installed the test skips with the way to
install it by hand, except under ``REQUIRE_SERVICES=1`` (CI), where that is
a failure.

What is rendered: every ``docs/**/*.mmd`` and every ``mermaid`` fence of the
README and the docs pages, all in one mmdc process (one browser start). The
full resource graphs (about 75 nodes) only have to render; the architecture
pictures (README.md, docs/diagrams/architecture-*.mmd) must also keep to at
most 20 nodes and, shown at GitHub's 880 px column, no text smaller than
12 px: an SVG wider than 880 px is scaled down by 880 / its viewBox width, so
each font size the SVG's style applies is scaled by that factor.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from infra.tooling import architecture
from tests.infra.harness import REPO_ROOT

INSTALLER: Final = REPO_ROOT / "scripts" / "diagrams" / "install_renderer.sh"
MMDC: Final = REPO_ROOT / ".tools" / "mermaid" / "node_modules" / ".bin" / "mmdc"
README_WIDTH_PX: Final = 880
MIN_TEXT_PX: Final = 12.0
# Chromium renders <small> at font-size "smaller": one step down, 1/1.2.
SMALL_FACTOR: Final = 1 / 1.2
HOW_TO: Final = (
    "install the renderer with `bash scripts/diagrams/install_renderer.sh` (needs npm, and "
    "Chromium: `apt-get install -y chromium`, or CHROMIUM=/path/to/chrome)"
)


@dataclass(frozen=True)
class Diagram:
    """One committed diagram: where it lives, its source, whether it is an architecture picture."""

    name: str
    source: str
    architecture: bool


def _fences(text: str) -> Iterator[str]:
    yield from re.findall(r"^```mermaid\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def committed_diagrams() -> list[Diagram]:
    """Every Mermaid diagram in the repository's docs, each source once."""
    found: dict[str, Diagram] = {}

    def add(name: str, source: str, is_architecture: bool) -> None:
        known = found.get(source)
        if known is None or (is_architecture and not known.architecture):
            found[source] = Diagram(name, source, is_architecture)

    for path in sorted((REPO_ROOT / "docs").rglob("*.mmd")):
        add(str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8"), False)
    for index, source in enumerate(_fences(architecture.README_PATH.read_text(encoding="utf-8"))):
        # The README shows architecture pictures only (the full graphs live in docs/).
        add(f"README.md#mermaid-{index + 1}", source, True)
    for path in sorted((REPO_ROOT / "docs").rglob("*.md")):
        for index, source in enumerate(_fences(path.read_text(encoding="utf-8"))):
            add(f"{path.relative_to(REPO_ROOT)}#mermaid-{index + 1}", source, False)
    for compute in architecture.COMPUTES:
        path = architecture.diagram_path(architecture.DEFAULT_OUT, compute)
        add(str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8"), True)
    return list(found.values())


# ---------------------------------------------------------------- measuring


def viewbox_width(svg: str) -> float:
    """The width of the root ``<svg>``'s viewBox."""
    match = re.search(r"<svg\b[^>]*\bviewBox=\"[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+\"", svg)
    assert match, "the SVG has no viewBox"
    return float(match.group(1))


def font_sizes(svg: str) -> list[float]:
    """Font sizes (px) the SVG applies to text it contains.

    From its ``<style>`` (a rule counts when every class its selector names is
    on some element: mermaid's stylesheet also styles tooltips and titles a
    diagram may not have), from ``style="font-size: …"`` and from
    ``font-size="…"`` attributes. A label in ``<small>`` is one step smaller.
    """
    classes = {name for value in re.findall(r'class="([^"]*)"', svg) for name in value.split()}
    sizes: list[float] = []
    for style in re.findall(r"<style[^>]*>(.*?)</style>", svg, flags=re.DOTALL):
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style):
            size = re.search(r"font-size:\s*([\d.]+)px", body)
            if size is None:
                continue
            for selector in selectors.split(","):
                if set(re.findall(r"\.([\w-]+)", selector)) <= classes:
                    sizes.append(float(size.group(1)))
    sizes += [float(px) for px in re.findall(r'style="[^"]*font-size:\s*([\d.]+)px', svg)]
    sizes += [float(px) for px in re.findall(r'\bfont-size="([\d.]+)(?:px)?"', svg)]
    if "<small>" in svg:
        sizes += [size * SMALL_FACTOR for size in sizes]
    return sizes


def smallest_text_px(svg: str, column_px: int = README_WIDTH_PX) -> float:
    """The smallest text as shown in a ``column_px`` wide column (never scaled up)."""
    scale = min(1.0, column_px / viewbox_width(svg))
    return min(font_sizes(svg)) * scale


def svg_node_count(svg: str) -> int:
    """Flowchart nodes drawn (``<g class="node …">``; subgraphs are clusters, not nodes)."""
    return len(re.findall(r'<g class="node\b', svg))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


# ---------------------------------------------------------------- rendering


def _required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def puppeteer_config() -> Path:
    """The renderer, installed when missing; skips (fails under REQUIRE_SERVICES=1) without it."""
    run = subprocess.run(
        ["bash", str(INSTALLER)], capture_output=True, text=True, timeout=900, check=False
    )
    if run.returncode != 0 or not MMDC.exists():
        reason = f"the Mermaid renderer is not available ({run.stderr.strip()[-500:]}): {HOW_TO}"
        if _required():
            pytest.fail(f"{reason} (REQUIRE_SERVICES=1, so this is a failure, not a skip)")
        pytest.skip(reason)
    return REPO_ROOT / run.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Rendered:
    """The diagrams and what mmdc made of them."""

    diagrams: list[Diagram]
    svgs: list[str]
    pngs: list[Path]
    seconds: float
    errors: list[str]


def _mmdc(config: Path, source: Path, output: Path, fmt: str, names: list[str]) -> str | None:
    """Render a Markdown file's fences; on failure, which diagram failed and why."""
    command = [str(MMDC), "-q", "-p", str(config), "-i", str(source), "-o", str(output)]
    command += ["-e", fmt, "-w", str(README_WIDTH_PX), "-b", "white"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if run.returncode == 0:
        return None
    # mmdc renders the fences in order and stops at the first that fails.
    done = len(list(output.parent.glob(f"{output.stem}-*.{fmt}")))
    failed = names[done] if done < len(names) else "?"
    return f"{failed} does not render:\n{run.stderr.strip()[:2000]}"


@pytest.fixture(scope="module")
def rendered(puppeteer_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Every diagram to SVG in one mmdc run; the architecture pictures to PNG in another."""
    work = tmp_path_factory.mktemp("diagrams")
    diagrams = committed_diagrams()
    pictures = [d for d in diagrams if d.architecture]
    started = time.monotonic()
    errors = []
    for stem, chosen, fmt in (("every", diagrams, "svg"), ("architecture", pictures, "png")):
        # A Markdown input: mmdc renders each fence to <output stem>-<n>.<format>.
        source = work / f"{stem}.md"
        source.write_text("".join(f"```mermaid\n{d.source}```\n\n" for d in chosen), "utf-8")
        error = _mmdc(
            puppeteer_config, source, work / f"{stem}-out.md", fmt, [d.name for d in chosen]
        )
        if error:
            errors.append(error)
    seconds = time.monotonic() - started
    svgs = [
        path.read_text(encoding="utf-8") if path.exists() else ""
        for path in (work / f"every-out-{index}.svg" for index in range(1, len(diagrams) + 1))
    ]
    pngs = [work / f"architecture-out-{index}.png" for index in range(1, len(pictures) + 1)]
    return Rendered(diagrams, svgs, pngs, seconds, errors)


def test_the_diagrams_to_render_are_found() -> None:
    """Both architecture pictures (README and docs/diagrams) and the four full graphs."""
    diagrams = committed_diagrams()
    names = {diagram.name for diagram in diagrams}
    assert {
        f"docs/diagrams/{s}-{c}.mmd" for s in ("dev", "prod") for c in ("fargate", "lambda")
    } <= names
    assert sum(diagram.architecture for diagram in diagrams) == len(architecture.COMPUTES)


def test_every_committed_diagram_renders(rendered: Rendered) -> None:
    """mmdc exits 0 for all of them and none is mermaid's error picture."""
    assert not rendered.errors, "\n\n".join(rendered.errors)
    for diagram, svg in zip(rendered.diagrams, rendered.svgs, strict=True):
        assert "<svg" in svg, diagram.name
        assert 'aria-roledescription="error"' not in svg, f"{diagram.name}: render error"
        assert "Syntax error" not in svg, f"{diagram.name}: render error"
        assert svg_node_count(svg) > 0, f"{diagram.name}: no node drawn"
    # One browser start per format: the whole file stays well under a minute.
    assert rendered.seconds < 45, f"rendering took {rendered.seconds:.0f} s"


def test_architecture_pictures_are_small_and_readable(rendered: Rendered) -> None:
    """At most 20 nodes, and no text under 12 px in an 880 px column."""
    pictures = [
        (diagram, svg)
        for diagram, svg in zip(rendered.diagrams, rendered.svgs, strict=True)
        if diagram.architecture
    ]
    assert pictures
    for diagram, svg in pictures:
        nodes = svg_node_count(svg)
        assert nodes == architecture.count_nodes(diagram.source), diagram.name
        assert nodes <= architecture.MAX_NODES, f"{diagram.name}: {nodes} nodes"
        smallest = smallest_text_px(svg)
        assert smallest >= MIN_TEXT_PX, (
            f"{diagram.name}: smallest text {smallest:.1f} px at {README_WIDTH_PX} px "
            f"(viewBox width {viewbox_width(svg):.0f} px)"
        )
    for png in rendered.pngs:
        width, height = png_size(png)
        assert width >= 400, f"{png}: {width} px wide"
        assert height > 0, png


def test_text_measure_scales_wide_pictures_and_ignores_unused_rules() -> None:
    """The measure itself: scaled by 880 / width, tooltip rules ignored, <small> counted."""
    style = (
        "<style>#s{font-size:16px;}#s div.mermaidTooltip{font-size:12px;}"
        "#s .edgeLabel{font-size:14px;}</style>"
    )
    wide = f'<svg viewBox="0 0 1760 500">{style}<g class="node"></g></svg>'
    assert smallest_text_px(wide) == 8.0
    narrow = f'<svg viewBox="0 0 440 500">{style}<g class="edgeLabel"></g></svg>'
    assert smallest_text_px(narrow) == 14.0
    small = f'<svg viewBox="0 0 880 500">{style}<span><small>x</small></span></svg>'
    assert smallest_text_px(small) == pytest.approx(16 * SMALL_FACTOR)
