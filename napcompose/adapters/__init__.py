"""Real implementations of the ports: docker-py, python-etcd, a JSON file store, paramiko.

SDK exceptions stop here: each adapter raises nap-compose errors ``from`` the SDK's.
"""

import sys as _sys
from importlib.machinery import PathFinder as _PathFinder


class _ParamikoConfigWithoutInvoke:
    """Loads paramiko's config module, whoever imports paramiko first, as if the task runner
    ``invoke`` were absent.

    paramiko.config imports invoke, when installed, only to run ``Match exec`` lines of an OpenSSH
    config file; nap-compose never reads one through paramiko, and loading invoke (which pulls in
    asyncio and unittest.mock) costs a quarter to half a second of every command on a busy machine.
    paramiko itself is not imported here: a module of this package that needs no SSH (early_tcp,
    which begins the TCP connections while paramiko loads) costs nothing more. A later ``import
    invoke`` works as usual; an invoke loaded before is left alone.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "paramiko.config":
            return None
        if self in _sys.meta_path:
            _sys.meta_path.remove(self)  # once: paramiko.config is then in sys.modules
        if "invoke" in _sys.modules:
            return None
        spec = _PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HidingInvoke(spec.loader)
        return spec


class _HidingInvoke:
    """A module loader that runs the module with ``import invoke`` failing."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _sys.modules["invoke"] = None  # makes `import invoke` raise ImportError, which paramiko expects
        try:
            self._loader.exec_module(module)
        finally:
            if _sys.modules.get("invoke", 0) is None:
                del _sys.modules["invoke"]

    def __getattr__(self, name):  # get_source, get_filename, ...: the real loader's
        return getattr(self._loader, name)


if "paramiko.config" not in _sys.modules:
    _sys.meta_path.insert(0, _ParamikoConfigWithoutInvoke())
