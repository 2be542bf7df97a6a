"""tools/demo.py: its steps are a list, and its table reads per-family J&F and the swap gap."""
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location('tool_demo', REPO / 'tools' / 'demo.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _report(scores, swap=None):
    recs = [dict(video_id=v, exp_id=e, family=f, **{'J&F': s}) for (v, e, f), s in scores.items()]
    rep = {'per_expression': recs, 'num_expressions': len(recs), 'pred_mplus_coverage': 50.0}
    if swap:
        rep['sentence_swap'] = swap
    return rep


def test_steps_are_a_list(demo):
    assert [s.name for s in demo.STEPS] == ['data', 'shipped', 'train', 'test', 'tam', 'swap']


def test_tam_step_trains_the_tam_then_tests_it_grounding_itself(demo, monkeypatch, tmp_path):
    """The demo trains the TAM on its checkpoint and adds a ``tam`` row, next to ``none``."""
    import argparse

    commands = []
    monkeypatch.setattr(demo, 'run', lambda cmd: commands.append(cmd) or 2.0)
    own = _report({('v', '0', 'event'): 60.0})
    monkeypatch.setattr(demo, 'latest_report', lambda work_dir: own)
    args = argparse.Namespace(work_dir=str(tmp_path / 'demo'), data_root='data/x', cfg_options=[],
                              seed=3)
    ctx = demo.Context(args, 'python', checkpoint=str(tmp_path / 'demo' / 'iter_800.pth'))
    ctx.reports['oracle'] = ctx.reports['none'] = (own, 1.0)
    demo.step_tam(ctx)
    train, test = commands
    tam_ckpt = str(tmp_path / 'demo' / 'iter_800_tam.pth')
    assert train[1:5] == ['tools/train_tam.py', demo.TAM_CONFIG, ctx.checkpoint, '--out']
    assert train[5] == tam_ckpt and 'test_dataloader.dataset.data_root=data/x' in train
    assert train[train.index('--seed') + 1] == '3'    # the TAM gets the demo's training seed
    assert test[1:4] == ['tools/test.py', demo.TAM_CONFIG, tam_ckpt]
    assert test[test.index('--grounding') + 1] == 'tam' and ctx.tam_checkpoint == tam_ckpt
    rows = [line.split()[0] for line in demo.format_table(ctx.reports).splitlines()[1:]]
    assert rows == ['oracle', 'none', 'tam']
    assert f'tools/infer.py {demo.TAM_CONFIG} {tam_ckpt}' in demo.try_it(tam_ckpt)


def test_train_step_passes_the_seed(demo, monkeypatch, tmp_path):
    """``--seed S`` reaches tools/train.py; the default, 0, is the config's own seed."""
    commands = []
    monkeypatch.setattr(demo, 'run', lambda cmd: commands.append(cmd) or 2.0)
    work = tmp_path / 'demo'
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'iter_800.pth'))
    for argv, seed in (([], '0'), (['--seed', '4'], '4')):
        ctx = demo.Context(demo.parse_args([*argv, '--work-dir', str(work)]), 'python')
        demo.step_train(ctx)
        train = commands.pop()
        assert train[1:3] == ['tools/train.py', demo.CONFIG]
        assert train[train.index('--seed') + 1] == seed
        assert ctx.checkpoint == str(work / 'iter_800.pth')


def test_family_table_and_swap_gap(demo):
    own = _report({('v', '0', 'appearance'): 80.0, ('v', '1', 'event'): 60.0,
                   ('v', '2', 'motion'): 40.0, ('w', '0', 'event'): 20.0})
    swapped = _report({('v', '0', 'appearance'): 30.0, ('v', '1', 'event'): 50.0,
                       ('v', '2', 'motion'): 40.0}, swap=dict(swapped=3, dropped=1))
    assert demo.family_jf(own) == dict(appearance=80.0, event=40.0, motion=40.0, all=50.0)
    gap = demo.swap_gap(own, swapped)   # w/0 has no partner: left out of both sides
    assert gap == dict(appearance=50.0, event=10.0, motion=0.0, all=20.0)
    table = demo.format_table({'oracle': (own, 3.0), 'none': (own, 2.0),
                               'oracle_swapped': (swapped, 2.0)})
    lines = table.splitlines()
    assert lines[0].split()[:5] == ['J&F', 'appearance', 'event', 'motion', 'all']
    assert lines[1].split()[:5] == ['oracle', '80.0', '40.0', '40.0', '50.0']
    assert lines[4].split()[:6] == ['swap', 'gap', '50.0', '10.0', '0.0', '20.0']
    assert '1 without one' in lines[5]


def test_reports_without_families(demo):
    rep = {'per_expression': [{'video_id': 'v', 'exp_id': '0', 'J&F': 70.0}]}
    assert demo.family_jf(rep) == dict(appearance=None, event=None, motion=None, all=70.0)
    assert '-' in demo.format_table({'none': (rep, 1.0)}).splitlines()[1]


def test_shipped_stages_are_reused_or_remade_in_order(demo, monkeypatch, tmp_path):
    import argparse

    import tgl_mm.models.utils.sam2_checkpoint as ckpt
    commands = []

    def fake_run(cmd):
        commands.append(cmd[1:3])
        if cmd[1] == 'tools/train.py':
            work = REPO / cmd[cmd.index('--work-dir') + 1]
            work.mkdir(parents=True, exist_ok=True)
            (work / 'last_checkpoint').write_text(f'{work.name}.pth')
        return 1.0

    monkeypatch.setattr(demo, 'run', fake_run)
    args = argparse.Namespace(work_dir=str(tmp_path / 'demo'), data_root='data/x', cfg_options=[])
    ctx = demo.Context(args, 'python')
    demo.step_shipped(ctx)                   # the shipped files match: nothing runs
    assert commands == [] and ctx.model_options == []
    # stage 0 is stale: it is remade, and the stage trained on it must be remade too
    hashes = iter(['stale', 'remade0', 'remade1'])
    monkeypatch.setattr(ckpt, 'file_sha256', lambda path: next(hashes))
    demo.step_shipped(ctx)
    stage0, image = demo.SHIPPED_STAGES
    assert commands == [['tools/train.py', stage0.config], [stage0.export, 'stage0.pth'],
                        ['tools/train.py', image.config], [image.export, 'image_pretrain.pth']]
    assert ctx.model_options == ['model.image_backbone.checkpoint_sha256=remade0',
                                 'model.head.checkpoint_sha256=remade0',
                                 'model.pretrained.checkpoint_sha256=remade1']
