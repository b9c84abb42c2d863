"""The dispatcher's one place where a handler's outcome becomes a reply
(sentry/platform/dispatch.py): answers, a vanished tracee, the sentry's own
failures (EIO and a line), and bugs (fatal)."""
import errno

from sentry import native
from sentry.errors import SysError, TaskGone
from sentry.platform.base import CONTINUE
from sentry.platform.dispatch import Dispatcher


class FakeTask:
    def __init__(self, nr):
        self.nr, self.pid, self.id = nr, 1, 1


def dispatch(handler, nr=7):
    fatal = []
    handlers = [None] * 16
    handlers[nr] = handler
    d = Dispatcher(handlers, on_fatal=fatal.append)
    d.bind(lambda id, pid, nr, args: FakeTask(nr), deferral=None)
    return d(1, 1, nr, (0,) * 6), fatal


def test_results_and_answers():
    assert dispatch(lambda t: 5)[0] == 5
    assert dispatch(lambda t: (_ for _ in ()).throw(SysError(errno.ENOENT)))[0] == -errno.ENOENT
    assert dispatch(None)[0] == native.PY_CONTINUE
    assert dispatch(lambda t: CONTINUE)[0] == native.PY_CONTINUE


def test_a_vanished_tracee_gets_no_reply():
    def gone(t):
        raise TaskGone()
    assert dispatch(gone)[0] == native.PY_DROPPED


def test_an_unexpected_host_failure_is_eio_with_a_line(capfd):
    def host_call(t):
        raise OSError(errno.ENOMEM, "no memory", "memfd_create")
    result, fatal = dispatch(host_call)
    assert result == -errno.EIO and fatal == []
    err = capfd.readouterr().err
    assert "host_call" in err and "the call gets EIO" in err and "no memory" in err


def test_a_bug_stops_the_sandbox():
    result, fatal = dispatch(lambda t: {}["missing"])
    assert result == native.PY_STOP and len(fatal) == 1 and "KeyError" in fatal[0]
