from .checkpoint import (
                         UnsafeCheckpointError,
                         install_checkpoint_safety,
                         load_checkpoint_file,
                         mmengine_safe_globals,
                         safe_checkpoint_globals,
)
from .fileio import atomic_dump_json, atomic_path, atomic_write_bytes, atomic_write_text
from .setup_env import register_all_modules

__all__ = [
    'UnsafeCheckpointError', 'atomic_dump_json', 'atomic_path', 'atomic_write_bytes',
    'atomic_write_text', 'install_checkpoint_safety', 'load_checkpoint_file',
    'mmengine_safe_globals', 'register_all_modules', 'safe_checkpoint_globals',
]
