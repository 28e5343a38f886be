"""The user-facing documents: README length, code fences, links, named paths, the CI command,
metafile.yml.  Reads files only (no subprocess, no network)."""
import itertools
import re
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
README_MAX_LINES = 250

#: markdown links and images: [text](target) / ![alt](target)
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
#: repository paths named in text: configs/....py and tools/...
NAMED_PATH = re.compile(r'(?<![\w./-])((?:configs/[\w./{},-]+?\.py)|(?:tools/[\w./{},-]*[\w}]))')
#: issue numbers belong to the tracker, not to a user-facing document
HISTORY = re.compile(r'issue\s#?\d', re.IGNORECASE)


def user_docs() -> List[Path]:
    """README.md and every ``docs/*.md``."""
    return [README] + sorted((ROOT / 'docs').glob('*.md'))


def fenced_docs() -> List[Path]:
    """The documents whose code fences must balance: the user docs and every study README."""
    return user_docs() + sorted((ROOT / 'experiments').glob('**/README.md'))


def expand_braces(path: str) -> List[str]:
    """``a_{x,y}.py`` -> ``['a_x.py', 'a_y.py']`` (shell brace expansion, any number of groups).

    Args:
        path (str): a path that may hold ``{a,b}`` groups.
    """
    parts = re.split(r'\{([^{}]*)\}', path)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def outside_fences(text: str) -> Iterator[str]:
    """The lines of ``text`` that are not inside a fenced code block."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith('```'):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def relative_targets(doc: Path) -> List[str]:
    """The link and image targets of ``doc`` that point into the repository (no URL, no anchor)."""
    targets = []
    for line in outside_fences(doc.read_text(encoding='utf-8')):
        for target in LINK.findall(line):
            if re.match(r'^[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
                continue
            targets.append(target.split('#')[0])
    return targets


def test_expand_braces():
    assert expand_braces('a/{x,y}_{1,2}.py') == ['a/x_1.py', 'a/x_2.py', 'a/y_1.py', 'a/y_2.py']
    assert expand_braces('tools/train.py') == ['tools/train.py']


def test_relative_targets_skip_urls_anchors_and_code(tmp_path):
    doc = tmp_path / 'x.md'
    doc.write_text('[a](https://x.org) [b](#top) ![c](img/c.png) [d](d.md#part)\n'
                   '```\n[e](inside_code.md)\n```\n')
    assert relative_targets(doc) == ['img/c.png', 'd.md']


def test_readme_length():
    lines = README.read_text(encoding='utf-8').splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f'README.md has {len(lines)} lines (limit {README_MAX_LINES}): move details to docs/')


@pytest.mark.parametrize('doc', fenced_docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_code_fences_balanced(doc):
    fences = [i + 1 for i, line in enumerate(doc.read_text(encoding='utf-8').splitlines())
              if line.lstrip().startswith('```')]
    assert len(fences) % 2 == 0, f'{doc.relative_to(ROOT)}: unbalanced ``` fences at lines {fences}'


@pytest.mark.parametrize('doc', user_docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(doc):
    missing = [t for t in relative_targets(doc) if not (doc.parent / t).exists()]
    assert not missing, f'{doc.relative_to(ROOT)}: links to missing files {missing}'


def test_readme_named_configs_and_tools_exist():
    text = README.read_text(encoding='utf-8')
    named = sorted({p for m in NAMED_PATH.findall(text) for p in expand_braces(m)})
    assert any(p.startswith('configs/') for p in named) and 'tools/train.py' in named
    missing = [p for p in named if not (ROOT / p).exists()]
    assert not missing, f'README.md names paths that do not exist: {missing}'


def pytest_invocation(line: str) -> str:
    """The ``... -m pytest ...`` command of a shell line (the part after the last ``&&``)."""
    return line.split('&&')[-1].strip()


def test_readme_test_command_is_the_ci_command():
    readme = [line.strip() for line in README.read_text(encoding='utf-8').splitlines()
              if '-m pytest' in line and 'setup_env.sh' in line]
    assert len(readme) == 1, f'README.md: expected one set-up + pytest command, found {readme}'
    assert readme[0].startswith('bash tools/setup_env.sh && ')
    ci_lines = [line.strip() for line in (ROOT / '.ci' / 'run').read_text().splitlines()
                if not line.lstrip().startswith('#')]
    assert 'bash tools/setup_env.sh' in ' '.join(ci_lines), '.ci/run must set up with setup_env.sh'
    ci_pytest = [pytest_invocation(line) for line in ci_lines if '-m pytest' in line]
    assert ci_pytest == [pytest_invocation(readme[0])], (
        f'README.md test command {readme[0]!r} and .ci/run {ci_pytest} differ')


@pytest.mark.parametrize('doc', user_docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_history_talk(doc):
    hits = [f'{i + 1}: {line}' for i, line in enumerate(doc.read_text(encoding='utf-8').splitlines())
            if HISTORY.search(line)]
    assert not hits, f'{doc.relative_to(ROOT)} cites issue numbers: {hits}'


def test_metafile():
    meta = yaml.safe_load((ROOT / 'metafile.yml').read_text(encoding='utf-8'))
    collections = {c['Name'] for c in meta['Collections']}
    assert meta['Models'], 'metafile.yml: no Models'
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert (ROOT / model['Config']).is_file(), f"metafile.yml: {model['Config']} does not exist"
        assert (ROOT / model['README']).is_file(), f"metafile.yml: {model['README']} does not exist"
        stage1 = model.get('Metadata', {}).get('Stage 1 Config')
        assert stage1 is None or (ROOT / stage1).is_file(), f'metafile.yml: {stage1} missing'
        for result in model.get('Results', []):
            assert result['Task'] and result['Dataset'] and result['Metrics'], model['Name']
            for name, value in result['Metrics'].items():
                assert isinstance(value, (int, float)), f"{model['Name']}: {name}={value!r}"
