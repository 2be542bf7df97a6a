import json

import pytest

from tgl_mm.utils.fileio import atomic_dump_json, atomic_path


def test_atomic_dump_json_roundtrip(tmp_path):
    out = tmp_path / 'sub' / 'a.json'
    atomic_dump_json({'x': 1}, out)
    assert json.loads(out.read_text()) == {'x': 1}
    assert [p.name for p in out.parent.iterdir()] == ['a.json']


def test_atomic_path_failure_leaves_old_file_and_no_temp(tmp_path):
    out = tmp_path / 'a.txt'
    out.write_text('old')
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text('half')
        raise RuntimeError('crash while writing')
    assert out.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['a.txt']


def test_atomic_output_has_default_permissions(tmp_path):
    import os
    umask = os.umask(0o022)
    try:
        out = tmp_path / 'b.txt'
        atomic_dump_json([], out)
        assert out.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
