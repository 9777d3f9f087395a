"""The TCP connect that decides whether a host is there: a short deadline, fresh SYNs while none was
answered, refusals raised at once. Against listening sockets on loopback (a listener whose accept
queue is full drops SYNs: the kernel's way of a host that does not answer)."""

import socket
import threading
import time

import pytest

from napcompose.adapters.early_tcp import EarlyConnections, connect_tcp, syn_times


def test_fresh_syns_go_out_only_before_the_deadline():
    assert syn_times(1.0) == (0.0, 0.25, 0.5)
    assert syn_times(0.4) == (0.0, 0.25)
    assert syn_times(0.1) == (0.0,)
    assert syn_times(600) == (0.0, 0.25, 0.5)  # later ones are the kernel's retransmissions
    assert syn_times(2.0, (0.0, 0.1)) == (0.0, 0.1)


@pytest.fixture
def full_listener():
    """A loopback listener whose accept queue is full: every further SYN is dropped until drained."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)
    yield listener
    filler.close()
    listener.close()


def test_no_answer_raises_a_timeout_at_the_deadline(full_listener):
    start = time.monotonic()
    with pytest.raises(socket.timeout):
        connect_tcp(full_listener.getsockname(), 0.6)
    assert 0.55 < time.monotonic() - start < 0.9


def test_a_fresh_syn_connects_where_the_first_one_was_lost(full_listener):
    """The queue drains 0.35 s in; the first socket's own SYN would be sent again only 1 s in, past
    the 0.9 s deadline, so only the fresh SYN sent 0.5 s in can connect in time."""
    accepted = []

    def drain():
        time.sleep(0.35)
        accepted.append(full_listener.accept()[0])

    threading.Thread(target=drain, daemon=True).start()
    start = time.monotonic()
    sock = connect_tcp(full_listener.getsockname(), 0.9)
    took = time.monotonic() - start
    try:
        assert sock.getpeername() == full_listener.getsockname()
        assert sock.gettimeout() is None  # blocking, as paramiko expects a socket it is given
        assert 0.45 < took < 0.85, took
    finally:
        sock.close()
        for conn in accepted:
            conn.close()


def test_a_refusal_is_raised_at_once_and_not_tried_again():
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    target = spare.getsockname()
    spare.close()
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        connect_tcp(target, 5.0)
    assert time.monotonic() - start < 0.2


def test_a_live_listener_connects_with_one_socket():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        sock = connect_tcp(listener.getsockname(), 1.0)
        conn, _ = listener.accept()
        listener.settimeout(0.3)
        with pytest.raises(socket.timeout):  # no second connection was left behind
            listener.accept()
        sock.close()
        conn.close()
    finally:
        listener.close()


def test_an_early_connection_keeps_the_deadline_and_its_timeout(full_listener):
    target = full_listener.getsockname()
    start = time.monotonic()
    early = EarlyConnections({target: 0.4})
    with pytest.raises(socket.timeout):
        early.take(target)
    assert time.monotonic() - start < 0.7


def test_a_connection_the_kernel_made_while_the_process_had_no_cpu_counts(full_listener):
    """The first SYN is dropped (the queue is full), then the process gets no CPU for 1.3 s while
    the queue drains and the kernel's own retransmission (1 s in) connects; the clock then reads
    long past the deadline. The host answered: it is not called dead."""
    readings = iter([0.0, 0.0])  # the start, the first SYN

    def clock():
        reading = next(readings, None)
        if reading is not None:
            return reading
        full_listener.accept()[0].close()  # the queue drains...
        time.sleep(1.3)  # ...while the process sleeps past the kernel's retransmission
        return 5.0

    sock = connect_tcp(full_listener.getsockname(), 1.0, syn_at=(0.0,), clock=clock)
    try:
        assert sock.getpeername() == full_listener.getsockname()
    finally:
        sock.close()
