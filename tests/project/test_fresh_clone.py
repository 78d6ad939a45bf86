"""A clone on its own runs the suite: no test reads a path outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent

# A path that leaves the repository: the shared folder beside it, or an absolute /work/... path.
OUTSIDE = re.compile(r"""(/work/|\.\./shared|["']shared["']|parents\[2\])""")


def _sources():
    yield from sorted(p for p in TESTS.rglob("*.py") if "data" not in p.relative_to(TESTS).parts[:1])
    yield from sorted((REPO / "bench").glob("*.py"))


def test_no_test_or_benchmark_reads_a_path_outside_the_repository():
    offenders = [f"{p.relative_to(REPO)}:{n}: {line.strip()}"
                 for p in _sources() if p.name != Path(__file__).name
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_the_test_data_is_in_the_repository_with_its_licences():
    from conftest import CORPUS, FIXTURES, REGULATIONS
    for folder in (CORPUS, FIXTURES, REGULATIONS):
        assert REPO in folder.resolve().parents
    assert REGULATIONS.is_file()
    rows = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    listed = {row.split("\t")[0] for row in rows if row.strip()}
    assert listed and all((CORPUS / path).is_file() for path in listed)
    # Every source repository of a copied file has its licence beside the corpus.
    repos = {row.split("\t")[3] for row in rows if row.strip()}
    assert all((CORPUS / "LICENSES" / repo.replace("/", "+")).is_dir() for repo in repos)
    assert (FIXTURES.parent / "README.md").read_text(encoding="utf-8").count("CC-BY-4.0") >= 1
    assert (FIXTURES / "good-objects" / "spec-ex-full").is_dir()
