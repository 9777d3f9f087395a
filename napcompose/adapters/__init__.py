"""Real implementations of the ports: docker-py, python-etcd, a JSON file store, paramiko.

SDK exceptions stop here: each adapter raises nap-compose errors ``from`` the SDK's.
"""
