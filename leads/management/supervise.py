"""Keep child processes running: `manage.py serve` (a worker, beat and the web server) and
`manage.py worker` (one Celery worker) both run their children through `run_together`."""

from __future__ import annotations

import signal
import subprocess
import time

from django.core.management.base import CommandError

# By default a child that dies this many times within RESTART_WINDOW seconds is broken, not
# unlucky: stop.
MAX_RESTARTS = 5
RESTART_WINDOW = 60


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def supervise(
    commands: dict[str, list[str]],
    *,
    env: dict | None,
    children: dict,
    say,
    poll: float = 0.5,
    keep_going=lambda: True,
    max_restarts: int | None = MAX_RESTARTS,
    max_delay: float = 0.0,
) -> None:
    """Start every command and keep it running: one that exits is started again (and `say` tells
    why). Runs until interrupted (or `keep_going()` is false); `children` holds the live processes.

    A child that exits more than `max_restarts` times within RESTART_WINDOW seconds stops
    everything (None: never). With `max_delay`, one that exits again within the window is started
    after 1, 2, 4 ... `max_delay` seconds, so that one that cannot run yet (its broker or database
    still down) does not spin."""
    children.update({name: _start(command, env) for name, command in commands.items()})
    exits: dict[str, list[float]] = {name: [] for name in commands}
    due: dict[str, float] = {}  # when an exited child starts again (monotonic seconds)
    while keep_going():
        time.sleep(poll)
        now = time.monotonic()
        for name, child in list(children.items()):
            if name in due:
                if now >= due[name]:
                    del due[name]
                    children[name] = _start(commands[name], env)
                continue
            if child.poll() is None:
                continue
            exits[name] = [t for t in exits[name] if now - t < RESTART_WINDOW] + [now]
            if max_restarts is not None and len(exits[name]) > max_restarts:
                raise CommandError(
                    f"The {name} exited {max_restarts + 1} times within {RESTART_WINDOW} s; stopping everything. "
                    "Its output above says why."
                )
            delay = restart_delay(len(exits[name]), max_delay)
            when = f"in {delay:g} s" if delay else "again"
            say(f"The {name} exited (code {child.returncode}); starting it {when}.")
            due[name] = now + delay


def restart_delay(exits: int, max_delay: float) -> float:
    """Seconds before starting a child that exited `exits` times within RESTART_WINDOW: none the
    first time, then 1, 2, 4 ... at most `max_delay`."""
    return 0.0 if exits < 2 else min(max_delay, 2.0 ** (exits - 2))


def _start(command: list[str], env: dict | None) -> subprocess.Popen:
    """A child in a process group of its own: a terminal's Ctrl-C reaches the supervisor alone,
    which then stops each child once (`run_together`)."""
    return subprocess.Popen(command, env=env, process_group=0)


def run_together(commands: dict[str, list[str]], *, env: dict | None, say, **supervising) -> None:
    """Run the commands (`supervise`, which takes `supervising`) until Ctrl-C, `kill` or a closed
    terminal, then stop each child once, with the SIGINT a terminal's Ctrl-C sends (gunicorn stops
    at once, a Celery worker finishes its task); kill them after 20 s or at a second Ctrl-C. The
    children used to get Ctrl-C's SIGINT and then this process's SIGTERM too, and the second signal
    broke into their shutdown (Celery beat printed a traceback)."""
    # Installed explicitly: started in the background by a shell, Python inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    children: dict[str, subprocess.Popen] = {}
    try:
        supervise(commands, env=env, children=children, say=say, **supervising)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(list(children.values()))


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    try:
        for child in children:
            child.wait(timeout=20)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # one hangs, or a second Ctrl-C: no more waiting
        for child in children:
            child.kill()
            child.wait()
