"""CPU time of a process group from /proc, as bench-gateway reads it for its CPU per request."""

import subprocess
import sys

from bench.proc_cpu import CLOCK_TICKS, cpu_us_per_request, group_cpu_seconds

BURN = """
import sys, time
while time.process_time() < 0.3:
    pass
print("burnt", flush=True)
sys.stdin.read()
"""


def test_the_cpu_a_process_group_burnt_is_read_from_proc():
    child = subprocess.Popen(
        [sys.executable, "-c", BURN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like every server the bench starts
    )
    try:
        assert child.stdout.readline() == "burnt\n"
        assert group_cpu_seconds(child.pid) >= 0.3 - 1 / CLOCK_TICKS
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_only_the_group_s_processes_count_and_odd_command_names_parse(tmp_path):
    def stat(pid: int, comm: str, pgrp: int, utime: int, stime: int) -> None:
        rest = ["S", "1", str(pgrp), *["0"] * 8, str(utime), str(stime), *["0"] * 10]
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(rest)}\n")

    stat(100, "nginx: master", 100, 10, 5)
    stat(101, "weird ) (name", 100, 20, 15)
    stat(200, "other", 200, 1000, 1000)
    (tmp_path / "self").mkdir()  # not a process directory
    assert group_cpu_seconds(100, proc=tmp_path) == (10 + 5 + 20 + 15) / CLOCK_TICKS


def test_cpu_per_request_is_microseconds_and_none_without_requests():
    assert cpu_us_per_request(0.5, 1000) == 500.0
    assert cpu_us_per_request(0.5, 0) is None
