"""A trivial deployment for the server load test (tests/performance/server_load_bench.py).

Kept apart from :mod:`flows.deployments` so the UI's deployment list stays what users need;
the load test registers it on the same process work pool.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow

from callmip.config import REPO_ROOT


@flow(name="load-trivial")
def trivial(n: int = 0) -> int:
    """Square a number: a flow run with no work, to load the server, database and worker.

    Args:
        n: Any integer.
    """
    return n * n


def register(pool: str) -> str:
    from prefect import Flow

    source = Flow.from_source(source=str(REPO_ROOT), entrypoint="flows/deployments_load.py:trivial")
    return str(source.deploy(name="load-trivial", work_pool_name=pool, build=False, push=False,
                             job_variables={"working_dir": str(REPO_ROOT)},
                             print_next_steps=False, ignore_warnings=True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", default="callmip-process")
    sys.stdout.write(register(parser.parse_args().pool) + "\n")
