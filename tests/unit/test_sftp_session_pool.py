"""The SFTP session pool behind hosts-file reads and writes: at most N sessions, reused, renewed."""

import threading
import time

import pytest

from napcompose.adapters.remote_files import _SessionPool
from napcompose.errors import HostError


class _Transport:
    pass


class _Channel:
    def __init__(self, transport):
        self.transport = transport

    def settimeout(self, seconds):
        self.timeout = seconds

    def get_transport(self):
        return self.transport


class _Session:
    def __init__(self, transport):
        self.channel = _Channel(transport)
        self.closed = False

    def get_channel(self):
        return self.channel

    def close(self):
        self.closed = True


class _Client:
    """An SSH client whose sessions are counted; ``reconnect`` replaces its transport."""

    def __init__(self):
        self.transport = _Transport()
        self.opened = []
        self.refuse = None

    def get_transport(self):
        return self.transport

    def open_sftp(self):
        if self.refuse:
            raise OSError(self.refuse)
        session = _Session(self.transport)
        self.opened.append(session)
        return session

    def reconnect(self):
        self.transport = _Transport()


def test_at_most_limit_sessions_and_each_is_lent_again():
    client = _Client()
    pool = _SessionPool("node1", lambda: client, 5.0, limit=2)
    busy, most, lock = [0], [0], threading.Lock()

    def work():
        for _ in range(5):
            session = pool.borrow()
            with lock:
                busy[0] += 1
                most[0] = max(most[0], busy[0])
            time.sleep(0.002)
            with lock:
                busy[0] -= 1
            pool.give_back(session, healthy=True)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 2
    assert len(client.opened) == 2
    assert not any(s.closed for s in client.opened)


def test_a_failed_session_is_closed_and_replaced():
    client = _Client()
    pool = _SessionPool("node1", lambda: client, 5.0, limit=1)
    first = pool.borrow()
    pool.give_back(first, healthy=False)
    second = pool.borrow()
    assert first.closed and second is not first and len(client.opened) == 2


def test_sessions_of_a_replaced_connection_are_dropped():
    client = _Client()
    pool = _SessionPool("node1", lambda: client, 5.0, limit=1)
    old = pool.borrow()
    pool.give_back(old, healthy=True)
    client.reconnect()
    new = pool.borrow()
    assert old.closed and new is not old and new.get_channel().get_transport() is client.transport
    pool.give_back(new, healthy=True)
    pool.close()
    assert new.closed


def test_a_session_that_cannot_be_opened_is_a_host_error_and_frees_its_place():
    client = _Client()
    pool = _SessionPool("node1", lambda: client, 5.0, limit=1)
    client.refuse = "administratively prohibited"
    with pytest.raises(HostError) as info:
        pool.borrow()
    assert str(info.value) == "node1: opening SFTP: administratively prohibited"
    client.refuse = None
    assert pool.borrow() is client.opened[0]
