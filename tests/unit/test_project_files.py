"""The README's set-up commands and the CI script stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    # The command line and the embedded server come with the cli extra; the tests need both.
    assert all("pip install -e '.[cli,test]'" in c for c in commands)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _readme_commands()[1].split(" && ")[-1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci_lines[-1] == test_command


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _cited_anchors() -> list[tuple[Path, str, str]]:
    """(file, document, anchor) for every ``docs/<document>.md#<anchor>`` in the project."""
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
    for folder in ("src", "tests", "benchmarks", "scripts", "docs"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md"}]
    found = []
    for path in files:
        for document, anchor in re.findall(r"docs/(\w+)\.md#([\w-]+)", path.read_text()):
            found.append((path, document, anchor))
        for document, anchor in re.findall(r"\]\((\w+)\.md#([\w-]+)\)", path.read_text()):
            found.append((path, document, anchor))
    return found


def test_every_design_citation_points_at_a_section_of_the_repository_docs() -> None:
    cited = _cited_anchors()
    assert any(document == "design" for _path, document, _anchor in cited)
    for path, document, anchor in cited:
        doc = ROOT / "docs" / f"{document}.md"
        assert doc.exists(), f"{path} cites {doc}, which does not exist"
        headings = re.findall(r"^#+ (.+)$", doc.read_text(), flags=re.MULTILINE)
        assert anchor in {_slug(h) for h in headings}, f"{path}: no section #{anchor} in {doc}"


def test_nothing_cites_a_design_document_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    for folder in ("src", "tests", "benchmarks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() != this_file:
                assert "DESIGN §" not in path.read_text(), path
    assert "DESIGN §" not in (ROOT / "README.md").read_text()
    assert "DESIGN §" not in (ROOT / "pyproject.toml").read_text()
