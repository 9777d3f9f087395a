"""The local multi-host lab: Docker hosts in network namespaces on one switch, sshd per host, etcd.

It gives nap-compose real hosts to work on without any machine of its own (like `kind` does for
Kubernetes). It sits beside the CLI and may run programs; the product's core never imports it.
"""

from napcompose.lab.layout import IMAGE, Layout, make_layout
from napcompose.lab.lifecycle import exec_argv, lab_down, lab_status, lab_up

__all__ = ["IMAGE", "Layout", "make_layout", "lab_up", "lab_down", "lab_status", "exec_argv"]
