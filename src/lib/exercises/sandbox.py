"""Run a student's code where it cannot reach the grader, the machine or a classmate.

    runner = find()                      # bubblewrap where it works, else unsandboxed
    result = runner.run([python, "-c", code], inputs={"in.ipynb": path},
                        collect="out.ipynb", timeout=300)

On Linux with bubblewrap (`bwrap`, Debian's package `bubblewrap`) every run has
its own PID namespace (it sees and can signal only its own processes), no
network, its own IPC and host name; the system, the Python environment and the
library read-only and nothing else of the host's files (no home folder, no
submissions, no gradebook); a private writable home (a size-limited tmpfs) that
holds only its own copy of its inputs; resource limits (processes and threads,
memory per process, file size, CPU seconds) that the caller sets; and the whole
group killed at the time limit. When the grader runs as root, the code runs as
an unprivileged user (RLIMIT_NPROC does not bind root). Where bubblewrap is
missing or cannot start, `find` returns a runner that runs the code in a
temporary folder in its own session with the same rlimits, and says so in
`description`.

`start` gives a live session (messages over stdin and a private pipe), which the
grader uses to call a student's function case by case from its own process.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOME = "/home/student"  # the private folder, inside the sandbox
INPUTS = "/run/inputs"  # read-only copies of the inputs, before they are copied home
OUT = "/run/output"  # where the command leaves what `collect` names (argv: "{out}")
MAX_MESSAGE = 64 * 2**20  # bytes: the most the grader reads back from one run


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Raise them with the grader's options."""

    processes: int = 256  # processes and threads at once (RLIMIT_NPROC)
    memory_mb: int = 4096  # address space of each process (RLIMIT_AS)
    file_mb: int = 256  # the largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 512  # its writable home (and /tmp, /dev/shm: 64 MiB each)
    cpu_s: float = 600  # CPU seconds of each process (RLIMIT_CPU)

    def __post_init__(self):
        for name in ("processes", "memory_mb", "file_mb", "disk_mb", "cpu_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sandbox limit {name} must be positive")

    def rlimits(self, processes_now: int = 0) -> dict[str, int]:
        return {
            "RLIMIT_NPROC": int(self.processes + processes_now),
            "RLIMIT_AS": int(self.memory_mb * 2**20),
            "RLIMIT_FSIZE": int(self.file_mb * 2**20),
            "RLIMIT_CPU": int(max(1, self.cpu_s)),
            "RLIMIT_CORE": 0,
        }


@dataclass
class Result:
    returncode: int | None  # the command's exit status (negative: a signal); None
    # when the sandbox could not report it (its processes were killed)
    timed_out: bool = False
    output: bytes = b""  # the `collect` file, as the command left it
    stdout: bytes = b""  # the first MAX_MESSAGE bytes
    stderr: str = ""  # the last few kB
    note: str = ""  # what the launcher reported (an output cut short, ...)
    cpu_s: float = 0.0  # CPU seconds of the command and the children it waited for


# Runs first inside the sandbox (or the temporary folder): drop to the sandbox
# user, set the limits, copy the inputs home, run the command, kill whatever it
# left behind, and report its status and the `collect` file on the private pipe.
_LAUNCHER = r"""
import json, os, resource, shutil, signal, struct, subprocess, sys
cfg = json.loads(sys.argv[1])
fd = cfg["fd"]
def report(info, data=b""):
    head = json.dumps(info).encode()
    blob = struct.pack("<Q", len(head)) + head + data
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]
home = cfg["home"]
for name, src in cfg["inputs"].items():
    shutil.copyfile(src, os.path.join(home, name))
uid = cfg["uid"]
if uid is not None:
    for name in cfg["inputs"]:
        os.chown(os.path.join(home, name), uid, uid)
    for d in cfg["writable"]:
        os.chmod(d, 0o1777 if d != home else 0o700)
        os.chown(d, uid, uid)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
unset = []
for name, value in cfg["rlimits"].items():
    try:  # macOS, say, refuses some (RLIMIT_AS): run without that one, and say so
        hard = resource.getrlimit(getattr(resource, name))[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(getattr(resource, name), (value, value))
    except (AttributeError, ValueError, OSError):
        unset.append(name)
try:
    # in the launcher's process group: the grader ends the whole group at the end
    child = subprocess.Popen(cfg["argv"], cwd=home, pass_fds=(fd,) * cfg["pass_fd"])
except OSError as exc:
    report({"returncode": None, "note": f"could not start: {exc}"})
    sys.exit(1)
try:
    code, timed_out = child.wait(timeout=cfg["deadline"]), False
except subprocess.TimeoutExpired:
    code, timed_out = None, True
try:
    child.kill()
except OSError:
    pass
if os.readlink("/proc/self/ns/pid") != cfg["host_pidns"]:
    try:  # its own PID namespace: end everything the command left running
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
child.wait()

def slim(raw):
    # a notebook whose outputs flooded it: keep the recorded answers and errors
    nb = json.loads(raw)
    for cell in nb.get("cells", []):
        outs = cell.get("outputs") or []
        cell["outputs"] = [
            o if cfg["keep"] in (o.get("metadata") or {}) else
            {k: o[k] for k in ("output_type", "ename", "evalue", "name") if k in o}
            for o in outs if isinstance(o, dict)
        ]
    return json.dumps(nb).encode()

data, note = b"", ""
if cfg["collect"]:
    path = os.path.join(cfg["out"], cfg["collect"])
    try:
        size = os.path.getsize(path)
        if size > cfg["cap"] and cfg["keep"] and size < 8 * cfg["cap"]:
            with open(path, "rb") as f:
                data = slim(f.read())
            note = f"outputs dropped: {cfg['collect']} had {size} bytes"
        elif size <= cfg["cap"]:
            with open(path, "rb") as f:
                data = f.read(cfg["cap"] + 1)
    except (OSError, ValueError, MemoryError, AttributeError, TypeError) as exc:
        note = f"no readable {cfg['collect']} ({type(exc).__name__})"
    if len(data) > cfg["cap"] or (not data and not note):
        data = b""
        note = note or f"{cfg['collect']} is larger than {cfg['cap']} bytes"
use = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = use.ru_utime + use.ru_stime
if unset:
    note = "; ".join([note] * bool(note) + ["limits not set: " + ", ".join(unset)])
report({"returncode": code, "timed_out": timed_out, "note": note, "cpu_s": cpu}, data)
"""


class Runner:
    """Runs commands; `sandboxed` says whether bubblewrap isolates them."""

    sandboxed = False
    description = "no sandbox"

    def __init__(self, *, hide: list[Path] | None = None, reason: str = ""):
        self.hide = [Path(p).resolve() for p in hide or []]
        if reason:
            self.description = f"no sandbox ({reason})"

    # ------------------------------------------------------------ public
    def run(
        self,
        argv: list[str],
        *,
        inputs: dict[str, Path] | None = None,
        collect: str | None = None,
        keep: str = "",
        stdin: bytes | None = None,
        timeout: float = 60,
        limits: Limits = Limits(),
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run `argv` to the end or to `timeout` seconds; nothing it does escapes.

        At the time limit the command's processes are killed and the `collect`
        file is still read back (a notebook shows the cells that ran). `keep`
        names an output-metadata key: a collected notebook larger than
        MAX_MESSAGE keeps only the outputs that carry it (and errors).
        """
        session = self.start(
            argv,
            inputs=inputs,
            collect=collect,
            keep=keep,
            limits=limits,
            env=env,
            deadline=timeout,
        )
        try:
            if stdin:
                threading.Thread(
                    target=session.feed, args=(stdin,), daemon=True
                ).start()
            else:
                session.close_stdin()
            return session.finish(timeout + 30)  # the launcher stops it at timeout
        finally:
            session.kill()

    def start(
        self,
        argv: list[str],
        *,
        inputs: dict[str, Path] | None = None,
        collect: str | None = None,
        keep: str = "",
        limits: Limits = Limits(),
        env: dict[str, str] | None = None,
        pass_fd: bool = False,
        deadline: float | None = None,
    ) -> Session:
        """Start `argv`; talk to it with the Session (its stdin, a private pipe).

        In `argv`, "{fd}" becomes the number of the private pipe's writing end
        (passed on to the command when `pass_fd`) and "{out}" the output folder.
        """
        tmp = Path(tempfile.mkdtemp(prefix="compgen-sandbox-"))
        read_end, write_end = os.pipe()
        try:
            staged = {}
            for name, src in (inputs or {}).items():
                if "/" in name or name.startswith("."):
                    raise ValueError(f"an input name must be a plain file name: {name}")
                staged[name] = tmp / "in" / name
                staged[name].parent.mkdir(exist_ok=True)
                shutil.copyfile(src, staged[name])
            cmd, cfg = self._command(tmp, staged, limits, env or {})
            cfg.update(
                argv=[
                    a.replace("{fd}", str(write_end)).replace("{out}", cfg["out"])
                    for a in argv
                ],
                deadline=deadline,
                keep=keep,
                fd=write_end,
                pass_fd=int(pass_fd),
                collect=collect,
                cap=MAX_MESSAGE,
                host_pidns=os.readlink("/proc/self/ns/pid")
                if os.path.exists("/proc/self/ns/pid")
                else "",
            )
            launcher = [sys.executable, "-I", "-c", _LAUNCHER, json.dumps(cfg)]
            proc = subprocess.Popen(
                cmd + launcher,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_end,),
                start_new_session=True,
                env=self._host_env(tmp, env or {}),
                cwd=tmp,
            )
        except BaseException:
            os.close(read_end)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            os.close(write_end)
        return Session(proc, read_end, tmp, uid=cfg.get("uid"))

    # ------------------------------------------------------------ the two kinds
    def _command(self, tmp: Path, staged: dict, limits: Limits, env: dict):
        """The command prefix and the launcher's settings: here, no sandbox."""
        home, out = tmp / "home", tmp / "out"
        home.mkdir()
        out.mkdir()
        uid = os.geteuid()
        cfg = {
            "home": str(home),
            "out": str(out),
            "inputs": {n: str(p) for n, p in staged.items()},
            "uid": None,
            "writable": [],
            "rlimits": limits.rlimits(0 if uid == 0 else tasks_of(uid)),
        }
        return [], cfg

    def _host_env(self, tmp: Path, env: dict) -> dict[str, str]:
        if self.sandboxed:
            return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        home = str(tmp / "home")
        return {**_base_env(home, str(tmp)), **env}


class Bubblewrap(Runner):
    """Runs commands in a bubblewrap sandbox (see the module's docstring)."""

    sandboxed = True

    def __init__(self, bwrap: str, *, hide: list[Path] | None = None):
        super().__init__(hide=hide)
        self.bwrap = bwrap
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        helptext = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10
        ).stdout
        self.sized = "--size" in helptext
        root = os.geteuid() == 0
        who = "as a spare uid" if root else "as you, in a user namespace"
        self.description = f"{version or 'bubblewrap'} ({who})"

    def _command(self, tmp: Path, staged: dict, limits: Limits, env: dict):
        root = os.geteuid() == 0
        uid = _spare_uid() if root else None  # a fresh one: the last may be dying
        args = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        if root:  # stay root only to set up, then the launcher drops to uid
            args += ["--cap-drop", "ALL"]
            args += [
                a
                for c in ("SETUID", "SETGID", "CHOWN")
                for a in ("--cap-add", f"CAP_{c}")
            ]
        else:
            args += ["--unshare-user"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc"):
            path = Path("/") / top
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--dev", "/dev", "--proc", "/proc"]
        # the private places first, then the environment bound on top: a checkout
        # under /tmp (as CI's may be) stays visible through the private /tmp
        small = 64 * 2**20
        places = [("/tmp", small), ("/dev/shm", small), (OUT, 8 * MAX_MESSAGE)]
        for path, size in [*places, (HOME, None)]:
            size = size or limits.disk_mb * 2**20
            if self.sized:
                args += ["--size", str(int(size))]
            args += ["--tmpfs", path]
        bound = [p for p in python_dirs() if not str(p).startswith(("/usr/", "/etc/"))]
        parents = sorted({a for p in bound for a in p.parents if a != Path("/")})
        for parent in parents:  # bwrap copies the modes of the host's (/root: 0700)
            args += ["--perms", "0755", "--dir", str(parent)]
        for path in bound:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.hide:  # a folder of submissions inside a bound folder
            if any(_inside(path, d) and path != d for d in python_dirs()):
                args += ["--tmpfs", str(path)]
        for name, src in staged.items():
            args += ["--ro-bind", str(src), f"{INPUTS}/{name}"]
        args += ["--chdir", HOME, "--clearenv"]
        for key, value in {**_base_env(HOME, "/tmp"), **env}.items():
            args += ["--setenv", key, value]
        processes_now = 0 if root else tasks_of(os.geteuid())
        cfg = {
            "home": HOME,
            "out": OUT,
            "inputs": {n: f"{INPUTS}/{n}" for n in staged},
            "uid": uid,
            "writable": ["/tmp", "/dev/shm", OUT, HOME],
            "rlimits": limits.rlimits(processes_now),
        }
        return args, cfg


class Session:
    """A running command: feed its stdin, exchange messages, collect its result."""

    def __init__(self, proc: subprocess.Popen, fd: int, tmp: Path, uid=None):
        self.proc, self.fd, self.tmp, self.uid = proc, fd, tmp, uid
        self._buffer = b""
        # held while reading: a call abandoned in a thread must end (at EOF) before
        # the pipe is closed, or it could read from a reused descriptor
        self._reading = threading.Lock()
        self._stdout = _Drain(proc.stdout, keep="head")
        self._stderr = _Drain(proc.stderr, keep="tail")

    def feed(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def send(self, message: Any) -> None:
        """One framed JSON message to the command's stdin."""
        blob = json.dumps(message).encode()
        try:
            self.proc.stdin.write(struct.pack("<Q", len(blob)) + blob)
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise EOFError("the sandboxed process has ended") from exc

    def receive(self, timeout: float | None = None) -> dict:
        """One framed JSON message from the private pipe; EOFError or TimeoutError."""
        head = self._read(8, timeout)
        (size,) = struct.unpack("<Q", head)
        if size > MAX_MESSAGE:
            raise EOFError(f"a message of {size} bytes, more than {MAX_MESSAGE}")
        message = json.loads(self._read(size, timeout))
        if not isinstance(message, dict):
            raise EOFError("a message that is not an object")
        return message

    def _read(self, n: int, timeout: float | None) -> bytes:
        with self._reading:
            return self._read_locked(n, timeout)

    def _read_locked(self, n: int, timeout: float | None) -> bytes:
        if self.fd < 0:
            raise EOFError("the session has ended")
        end = None if timeout is None else time.monotonic() + timeout
        while len(self._buffer) < n:
            wait = None if end is None else max(0.0, end - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(self.fd, max(65536, n - len(self._buffer)))
            if not chunk:
                raise EOFError("the sandboxed process has ended")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def finish(self, timeout: float) -> Result:
        """Wait for the launcher's report (until `timeout`), then end everything."""
        start = time.monotonic()
        report, data, timed_out = None, b"", False
        try:
            head = self._read(8, timeout)
            (size,) = struct.unpack("<Q", head)
            left = timeout - (time.monotonic() - start)
            report = json.loads(self._read(size, left))
            # the data follows the header: read to the end of the pipe
            while True:
                left = timeout - (time.monotonic() - start)
                ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
                if not ready:
                    raise TimeoutError
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                self._buffer += chunk
                if len(self._buffer) > MAX_MESSAGE:
                    break
            data, self._buffer = self._buffer, b""
        except TimeoutError:
            timed_out = True
        except (EOFError, ValueError, struct.error):
            report = None
        self.kill()
        if isinstance(report, dict) and report.get("timed_out"):
            timed_out = True
        code = report.get("returncode") if isinstance(report, dict) else None
        note = str(report.get("note") or "") if isinstance(report, dict) else ""
        cpu = report.get("cpu_s") if isinstance(report, dict) else None
        return Result(
            returncode=code if isinstance(code, int) else None,
            timed_out=timed_out,
            output=data,
            stdout=self._stdout.value(),
            stderr=self._stderr.value().decode(errors="replace"),
            note=note,
            cpu_s=float(cpu) if isinstance(cpu, (int, float)) else 0.0,
        )

    def kill(self) -> None:
        """End the command and everything it started; remove its folder."""
        try:  # the whole group, also when the command itself has ended
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._stdout.join()
        self._stderr.join()
        for stream in (self.proc.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        with self._reading:  # its processes are gone: a reader sees EOF and lets go
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.uid is not None:
            with _HELD_LOCK:
                _HELD.discard(self.uid)


class _Drain:
    """Reads a pipe to its end in a thread, keeping its head or its tail."""

    def __init__(self, stream, *, keep: str, size: int = 1 << 20):
        self.parts: list[bytes] = []
        self.kept, self.keep, self.size = 0, keep, size
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        try:
            while chunk := stream.read1(65536):
                if self.keep == "head" and self.kept >= self.size:
                    continue
                self.parts.append(chunk)
                self.kept += len(chunk)
                if self.keep == "tail" and self.kept > 4 * self.size:
                    joined = b"".join(self.parts)[-self.size :]
                    self.parts, self.kept = [joined], len(joined)
        except (OSError, ValueError):
            pass

    def join(self):
        self.thread.join(timeout=5)  # a stray holder of the pipe: give up on it

    def value(self) -> bytes:
        joined = b"".join(self.parts)
        return joined[: self.size] if self.keep == "head" else joined[-8192:]


# ---------------------------------------------------------------- finding one


_FOUND: dict[tuple, Runner] = {}


def find(*, hide: list[Path] | None = None, allow: bool = True) -> Runner:
    """The best runner this machine allows: bubblewrap if it starts, else none.

    `hide` are folders the sandbox must not show even where they lie inside the
    Python environment (the submissions, the gradebook's folder). `allow=False`
    (the grader's --no-sandbox) returns the unsandboxed runner.
    """
    key = (tuple(str(p) for p in hide or []), allow)
    if key not in _FOUND:
        _FOUND[key] = _find(hide, allow)
    return _FOUND[key]


def _find(hide, allow) -> Runner:
    if not allow:
        return Runner(hide=hide, reason="turned off with --no-sandbox")
    if not sys.platform.startswith("linux"):
        return Runner(
            hide=hide, reason=f"bubblewrap needs Linux; this is {sys.platform}"
        )
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Runner(
            hide=hide, reason="bubblewrap is not installed: apt-get install bubblewrap"
        )
    numpy_here = "numpy" in sys.modules  # then it must be importable in there too
    try:
        runner = Bubblewrap(bwrap, hide=hide)
        probe = runner.run(
            [sys.executable, "-c", "import numpy" if numpy_here else "pass"],
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Runner(hide=hide, reason=f"bubblewrap could not start: {exc}")
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1:] or ["no message"]
        return Runner(hide=hide, reason=f"bubblewrap could not start: {why[0][:200]}")
    return runner


def python_dirs() -> list[Path]:
    """The folders this Python and the library live in (never the working folder)."""
    try:
        import compgen

        library = [str(Path(compgen.__file__).resolve().parent)]
    except ImportError:  # sandbox.py used on its own
        library = []
    found = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(sys.executable).resolve().parent.parent),
        *library,
        *(v for k, v in sysconfig.get_paths().items() if k != "scripts"),
    }
    cwd = Path.cwd().resolve()
    for entry in sys.path:
        if entry and os.path.isabs(entry) and Path(entry).resolve() != cwd:
            found.add(entry)
    paths = sorted({Path(p).resolve() for p in found if p and Path(p).exists()})
    # keep the outermost of nested folders, and never the working folder itself
    kept: list[Path] = []
    for p in paths:
        if p == cwd or p == Path("/") or any(_inside(p, k) for k in kept):
            continue
        kept.append(p)
    return kept


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _base_env(home: str, tmp: str) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": tmp,
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "COMPGEN_PROGRESS": "0",
        "COMPGEN_CHECKPOINTS": f"{home}/.checkpoints",
    }


def tasks_of(uid: int) -> int:
    """How many processes and threads `uid` runs now (RLIMIT_NPROC counts these)."""
    count = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        try:
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
        except (KeyError, ValueError, IndexError):
            continue
    return count


_HELD: set[int] = set()  # spare uids of sandboxes running now (grading in parallel)
_HELD_LOCK = threading.Lock()


def _spare_uid() -> int:
    """A user id that no account has and no process uses (for running as root)."""
    import pwd

    used = set()
    for entry in os.listdir("/proc"):
        try:
            text = Path(f"/proc/{entry}/status").read_text() if entry.isdigit() else ""
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Uid:"):
                used.add(int(line.split()[1]))
    with _HELD_LOCK:
        for uid in range(61_000, 65_000):
            if uid in used or uid in _HELD:
                continue
            try:
                pwd.getpwuid(uid)
                continue
            except KeyError:
                _HELD.add(uid)
                return uid
    raise OSError("no spare user id between 61000 and 65000")


# ---------------------------------------------------------------- values across


class Opaque:
    """A value from the sandbox that has no safe form here: only its description."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__


def encode(x: Any, depth: int = 0) -> Any:
    """A value as JSON: numbers, text, lists, tuples, dicts, numpy arrays, tensors.

    Anything else (and anything whose own methods fail) becomes its description.
    """
    try:
        return _encode(x, depth)
    except BaseException:
        try:
            text = " ".join(str(repr(x)).split())[:200]
        except BaseException:
            text = f"<{type(x).__name__}>"
        return {"__opaque__": text}


def _encode(x: Any, depth: int) -> Any:
    np = sys.modules.get("numpy")  # no numpy loaded: no numpy values to send
    if depth > 30:
        raise ValueError("too deep")
    kind = type(x)
    if x is None or kind in (bool, str, float):
        return x
    if kind is int:
        return x if x.bit_length() < 4000 else {"__opaque__": "a huge integer"}
    if kind is list:
        return [_encode(v, depth + 1) for v in x]
    if kind is tuple:
        return {"__tuple__": [_encode(v, depth + 1) for v in x]}
    if kind is dict:
        return {
            "__dict__": [
                [_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in x.items()
            ]
        }
    torch_tensor = getattr(kind, "__module__", "").startswith("torch") and hasattr(
        x, "detach"
    )
    if torch_tensor:
        arr = x.detach().cpu().numpy()
    elif np is not None and issubclass(kind, (np.ndarray, np.generic)):
        arr = np.asarray(x)
    else:
        raise TypeError
    if arr.dtype.kind not in "biuf":
        raise TypeError
    return {
        "__nd__": [arr.dtype.str, list(arr.shape), arr.ravel().tolist()],
        "torch": bool(torch_tensor),
        "scalar": np is not None and issubclass(kind, np.generic),
    }


def decode(x: Any, depth: int = 0) -> Any:
    """The inverse of `encode`, for data from an untrusted process (checked)."""
    if depth > 30:
        raise ValueError("too deep")
    if x is None or type(x) in (bool, str, int, float):
        return x
    if type(x) is list:
        return [decode(v, depth + 1) for v in x]
    if type(x) is not dict:
        raise ValueError("not a value")
    if "__tuple__" in x:
        return tuple(decode(v, depth + 1) for v in x["__tuple__"])
    if "__dict__" in x:
        return {
            _key(decode(k, depth + 1)): decode(v, depth + 1) for k, v in x["__dict__"]
        }
    if "__opaque__" in x:
        return Opaque(str(x["__opaque__"])[:200])
    dtype, shape, flat = x["__nd__"]
    import numpy as np

    dtype = np.dtype(str(dtype))
    if dtype.kind not in "biuf" or dtype.itemsize > 16:
        raise ValueError("not a numeric dtype")
    if not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise ValueError("not a shape")
    if int(np.prod(shape, dtype=np.int64)) != len(flat) or len(flat) > 10**7:
        raise ValueError("shape and data disagree")
    arr = np.array(flat, dtype=dtype).reshape(shape)
    if x.get("scalar"):
        return arr[()]
    if x.get("torch"):
        import torch

        return torch.from_numpy(arr)
    return arr


def _key(k: Any) -> Any:
    hash(k)  # a list as a key: refuse the message
    return k
