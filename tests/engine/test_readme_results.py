"""The README's generated blocks equal their committed JSON: every number in the ablation,
ordering and grounding tables equals benchmarks/results/synthetic_ablation.json (rewrite with
``python benchmarks/synthetic_ablation.py --readme``), every number of the `make demo` table over
training seeds equals benchmarks/results/demo_seeds.json (``python benchmarks/demo_seeds.py
--readme``)."""
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_results_equal_the_committed_json(bench):
    result = json.loads((REPO / 'benchmarks' / 'results' / 'synthetic_ablation.json').read_text())
    readme = (REPO / 'README.md').read_text()
    assert readme.count(bench.README_BEGIN) == 1 and readme.count(bench.README_END) == 1
    block = readme.split(bench.README_BEGIN, 1)[1].split(bench.README_END, 1)[0]
    assert bench.README_BEGIN + block + bench.README_END == bench.readme_block(result), (
        'README results differ from benchmarks/results/synthetic_ablation.json: run '
        'python benchmarks/synthetic_ablation.py --readme')
    markdown = (REPO / 'benchmarks' / 'results' / 'synthetic_ablation.md').read_text()
    assert markdown.startswith(bench.results_markdown(result))


def test_readme_demo_table_equals_the_committed_json(demo_seeds):
    """The README's `make demo` table over training seeds is the block benchmarks/demo_seeds.py
    makes from benchmarks/results/demo_seeds.json."""
    result = json.loads((REPO / 'benchmarks' / 'results' / 'demo_seeds.json').read_text())
    readme = (REPO / 'README.md').read_text()
    begin, end = demo_seeds.README_BEGIN, demo_seeds.README_END
    assert readme.count(begin) == 1 and readme.count(end) == 1
    block = begin + readme.split(begin, 1)[1].split(end, 1)[0] + end
    assert block == demo_seeds.readme_block(result), (
        'README demo table differs from benchmarks/results/demo_seeds.json: run '
        'python benchmarks/demo_seeds.py --readme')
