"""Installs the Uni-Perceiver v2 OpenMMLab plugin under the import name ``uniperceiver_v2``."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def parse_requirements(fname: str) -> list:
    """Read a requirements file in the OpenMMLab manner: one requirement per line, comments and
    blank lines skipped, ``-r other.txt`` includes followed."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


def get_version() -> str:
    with open(osp.join(HERE, 'projects', 'uniperceiver_v2', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


setup(
    name='uniperceiver_v2',
    version=get_version(),
    description='Uni-Perceiver v2: a generalist model for large-scale vision and '
    'vision-language tasks, as an OpenMMLab plugin',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    python_requires='>=3.9',
    packages=['uniperceiver_v2'] +
    ['uniperceiver_v2.' + p for p in find_packages(osp.join(HERE, 'projects', 'uniperceiver_v2'))],
    package_dir={'uniperceiver_v2': 'projects/uniperceiver_v2'},
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'all': parse_requirements('requirements/runtime.txt') +
        parse_requirements('requirements/tests.txt') +
        parse_requirements('requirements/optional.txt'),
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
        'mim': parse_requirements('requirements/mminstall.txt'),
    },
    zip_safe=False)
