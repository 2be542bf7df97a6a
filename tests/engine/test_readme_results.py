"""The README's results block is the one benchmarks/synthetic_ablation.py generates from its
committed JSON: every number in the README's ablation, ordering and grounding tables equals
the JSON (rewrite it with ``python benchmarks/synthetic_ablation.py --readme``)."""
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
