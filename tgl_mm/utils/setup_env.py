"""Register every tgl_mm module, install the checkpoint safety and make ``tgl_mm`` the default
scope."""
import datetime
import warnings

from mmengine import DefaultScope

from .checkpoint import install_checkpoint_safety


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import all tgl_mm modules so their registry entries exist, and install the checkpoint
    safety (:func:`~tgl_mm.utils.checkpoint.install_checkpoint_safety`: weights-only loading in
    mmengine, the atomic file backend), which importing tgl_mm does not.

    Configs normally do not need this (the registries know their ``locations``); scripts that
    build components outside a Runner call it once.

    Args:
        init_default_scope: also make ``tgl_mm`` the current default scope (a new, uniquely
            named instance if another scope is current).
    """
    import tgl_mm.apis  # noqa: F401
    import tgl_mm.datasets  # noqa: F401
    import tgl_mm.engine  # noqa: F401
    import tgl_mm.evaluation  # noqa: F401
    import tgl_mm.models  # noqa: F401
    import tgl_mm.visualization  # noqa: F401

    install_checkpoint_safety()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('tgl_mm'):
        DefaultScope.get_instance('tgl_mm', scope_name='tgl_mm')
    elif current.scope_name != 'tgl_mm':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "tgl_mm"; '
                      'register_all_modules creates a new default scope named tgl_mm-<time>.',
                      stacklevel=2)
        name = f'tgl_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='tgl_mm')
