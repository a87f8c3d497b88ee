"""The run lock is held by one process at a time: real processes race for it, with and without a stale lock left
by a dead process, and a process paused between creating the lock and writing its pid keeps it."""

import contextlib
import fcntl
import multiprocessing
import os
import socket
import time

import pytest

from minivdt import checkpoints
from minivdt.checkpoints import RunLockedError, run_lock

DEAD_PID = 2**30  # above any pid_max (Linux allows at most 2**22): os.kill says no such process
FORK = multiprocessing.get_context("fork")  # real processes that start at once: this one has imported minivdt


def _racer(run, index, start, rounds, period, stale, results):
    """From `start`, try to take the lock at the same moment as the other racers, round after round; a holder
    creates `holder` exclusively, so a second holder at the same time is counted as an overlap. With `stale`,
    racer 0 leaves a dead process's lock between the rounds."""
    held = overlaps = 0
    for r in range(rounds):
        while time.time() < start + r * period:
            time.sleep(0.0002)
        try:
            with run_lock(run):
                held += 1
                try:
                    os.close(os.open(run / "holder", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    overlaps += 1
                    continue
                time.sleep(period / 4)
                os.unlink(run / "holder")
        except RunLockedError:
            pass
        if stale and index == 0:
            while time.time() < start + (r + 0.6) * period:
                time.sleep(0.001)
            with contextlib.suppress(FileExistsError):
                fd = os.open(run / checkpoints.LOCK_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, f"{DEAD_PID} {socket.gethostname()}\n".encode())
                os.close(fd)
    results.put({"held": held, "overlaps": overlaps})


def _paused_owner(run, step, pause, results):
    """Take the lock with one step of run_lock slowed down by `pause` seconds, after touching `paused`: the flock
    (the lock file exists, empty, and is not locked yet) or the write of the pid (locked, still empty)."""
    module, name = {"flock": (fcntl, "flock"), "write": (os, "pwrite")}[step]
    real = getattr(module, name)

    def slow(*args):
        setattr(module, name, real)
        (run / "paused").touch()
        time.sleep(pause)
        return real(*args)

    setattr(module, name, slow)
    with run_lock(run):
        results.put("held")
        time.sleep(0.2)


def _wait_for(path, process, timeout=60):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.is_alive(), f"the process ended (exit {process.exitcode}) before {path.name} appeared"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale-lock-present"])
def test_racing_processes_never_hold_the_lock_together(tmp_path, stale):
    workers, rounds, period = 4, 30, 0.1
    if stale:
        (tmp_path / checkpoints.LOCK_FILE).write_text(f"{DEAD_PID} {socket.gethostname()}\n")
    results, start = FORK.Queue(), time.time() + 0.5
    racers = [FORK.Process(target=_racer, args=(tmp_path, i, start, rounds, period, stale, results))
              for i in range(workers)]
    for racer in racers:
        racer.start()
    counts = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    assert sum(c["overlaps"] for c in counts) == 0, counts
    assert sum(c["held"] for c in counts) >= rounds // 2, counts  # the lock was taken, not refused all round
    assert stale or not (tmp_path / checkpoints.LOCK_FILE).exists()  # the last holder released it


@pytest.mark.parametrize("step", ["flock", "write"])
def test_a_lock_paused_between_create_and_write_is_not_taken_over(tmp_path, step):
    results = FORK.Queue()
    owner = FORK.Process(target=_paused_owner, args=(tmp_path, step, 2.0, results))
    owner.start()
    _wait_for(tmp_path / "paused", owner)
    assert (tmp_path / checkpoints.LOCK_FILE).read_text() == ""  # created, its pid not written yet
    with pytest.raises(RunLockedError, match="is in use by"):
        with run_lock(tmp_path):
            pass
    assert results.get(timeout=60) == "held"  # the paused owner got its lock after all
    owner.join(timeout=60)
    assert owner.exitcode == 0
    assert not (tmp_path / checkpoints.LOCK_FILE).exists()


def test_an_empty_lock_is_respected_while_young_and_taken_over_when_old(tmp_path):
    """What an older minivdt, paused between creating the lock and writing its pid, leaves: an empty file."""
    lock = tmp_path / checkpoints.LOCK_FILE
    lock.write_text("")
    with pytest.raises(RunLockedError, match="writing its lock now"):
        with run_lock(tmp_path):
            pass
    old = time.time() - 2 * checkpoints.LOCK_GRACE_S
    os.utime(lock, (old, old))
    with run_lock(tmp_path):
        assert lock.read_text().split()[0] == str(os.getpid())
    assert not lock.exists()


def test_the_lock_names_its_owner_and_refuses_a_second_holder_in_the_same_process(tmp_path):
    with run_lock(tmp_path) as lock:
        assert lock.read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        with pytest.raises(RunLockedError, match=f"in use by process {os.getpid()}"):
            with run_lock(tmp_path):
                pass
        assert lock.exists()  # the refused attempt did not release it
    assert not lock.exists()
