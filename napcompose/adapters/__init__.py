"""Real implementations of the ports: docker-py, python-etcd, a JSON file store, paramiko.

SDK exceptions stop here: each adapter raises nap-compose errors ``from`` the SDK's.
"""

import sys as _sys
from importlib.machinery import PathFinder as _PathFinder
from importlib.util import LazyLoader as _LazyLoader


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


class _DnsResolverOnFirstUse:
    """Makes the first ``import dns.resolver`` lazy: the module is created, and run on its first use.

    python-etcd imports dnspython's resolver only for the SRV discovery of a cluster's members;
    nap-compose names every member in the cluster file and never asks for it, and the resolver (with
    the rest of dnspython it loads) is about half of python-etcd's import time: CPU that ``ps`` with a
    host down spends before it can read the stand-ins from the store. A use of the module (an
    attribute of it) loads it in full, as the import would have. Only the first import is lazy (a
    later one of a module made so loads it); a resolver loaded before is left alone.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "dns.resolver":
            return None
        if self in _sys.meta_path:
            _sys.meta_path.remove(self)  # once
        spec = _PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _LazyLoader(spec.loader)
        return spec


if "paramiko.config" not in _sys.modules:
    _sys.meta_path.insert(0, _ParamikoConfigWithoutInvoke())
if "dns.resolver" not in _sys.modules:
    _sys.meta_path.insert(0, _DnsResolverOnFirstUse())
