"""Relative links between the project's Markdown files resolve: the file exists, and a #fragment names a
heading of the linked Markdown file (GitHub's anchor rules)."""

import os
import re

from tools import REPO

SKIPPED_DIRS = {".git", ".venv", ".tools", "target", "node_modules", ".run"}
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def markdown_files():
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".md"):
                yield os.path.join(root, name)


def prose_lines(path):
    """The file's lines outside fenced code blocks."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced:
                yield line


def anchors(path):
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen = {}
    for line in prose_lines(path):
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            yield slug if count == 0 else f"{slug}-{count}"


def broken_links(path):
    for line in prose_lines(path):
        for match in LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, fragment = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(linked):
                yield f"{target}: no such file"
            elif fragment and linked.endswith(".md") and fragment not in set(anchors(linked)):
                yield f"{target}: no heading #{fragment} in {os.path.relpath(linked, REPO)}"


def test_relative_markdown_links_resolve():
    files = list(markdown_files())
    assert any(path.endswith("README.md") for path in files)
    broken = [f"{os.path.relpath(path, REPO)}: {problem}" for path in files for problem in broken_links(path)]
    assert not broken, "\n".join(broken)
