from .fsdp import TGLFSDPStrategy, module_class_wrap_policy, sharded_tensor_globals

__all__ = ['TGLFSDPStrategy', 'module_class_wrap_policy', 'sharded_tensor_globals']
