"""Every repository path the documentation names exists, so a reader can follow it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A path in backquotes or a Markdown link that starts at one of the repository's top folders.
TOP = r"(?:registry|config|tests|bench|docs|docker|\.ci)/"
NAMED = re.compile(rf"`({TOP}[^`\s:]*)`|\]\(({TOP}[^)\s#]*)")
LINKED = re.compile(r"\]\(([\w.-]+\.md)(?:#[^)]*)?\)")
# Made by the operator from docs/operations.md's steps, and kept out of git (.gitignore).
MADE_BY_THE_OPERATOR = {"docker/.env", "docker/secrets/"}


def named_paths(document: Path) -> list[str]:
    text = document.read_text()
    return [a or b for a, b in NAMED.findall(text)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_path_a_document_names_exists(document):
    missing = [
        name
        for name in named_paths(document)
        if not (ROOT / name.rstrip("/")).exists()
        and name not in MADE_BY_THE_OPERATOR
        # a glob or a placeholder names a family of files, e.g. `registry/migrations/00*.py`
        and not any(mark in name for mark in "*<{")
    ]
    missing += [
        link
        for link in LINKED.findall(document.read_text())
        if not (document.parent / link).exists()
    ]
    assert missing == [], f"{document.name} names paths that do not exist: {missing}"


def test_the_documents_name_paths_at_all():
    # The pattern above must keep finding what it checks.
    assert "registry/gatekeeper.py" in named_paths(ROOT / "docs" / "gatekeeper.md")


# Numbered references to a tracker or design document outside the repository; written in two
# parts so that this file does not name one itself.
UNFOLLOWABLE = re.compile("(?:[Ii]ssue|Rule)" + r" \d")


def test_no_file_points_to_a_numbered_issue_or_rule():
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("registry", "bench", "docs", "tests")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".md", ".po", ".html", ".css", ".js", ".txt"}
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if UNFOLLOWABLE.search(line)
    ]
    assert found == []
